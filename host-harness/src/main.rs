//! `textract-host`: run the textract-connector component from the command line.
//!
//! Exit codes: 0 a result on stdout; 3 an execution error on stdout as
//! `{"error": {...}}` (the connector's, a limit the runtime enforced, or input
//! that is not UTF-8); 1 a harness failure, one line on stderr. A reader that
//! closes stdout early is not a failure.

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{ArgGroup, Args, Parser, Subcommand};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use textract_host::cli::{many, stdout};
use textract_host::engine::documents::FolderStore;
use textract_host::engine::sandbox::{Grants, RuntimeMode};
use textract_host::engine::{EngineSettings, ExecOptions, ExecutionClock, Harness};
use textract_host::limits::{self, Limits};
use textract_host::outcome::{self, GuestError};
use textract_host::transport::cassette::{self, Cassette};
use textract_host::transport::egress::EgressPolicy;
use textract_host::transport::{Mode, Replayer};
use textract_host::worker::semantics::secrets::SecretSource;

#[derive(Parser)]
#[command(
    name = "textract-host",
    version,
    about = "Run the Amazon Textract connector component in a sandboxed Wasmtime host"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Execute the connector once on a JSON input.
    Run(RunArgs),
    /// Execute many inputs at once, each in its own sandbox (the multi-tenant model).
    RunMany(RunManyArgs),
    /// Take jobs from a Camunda 8 cluster and run each in its own sandbox (a connector runtime).
    Worker(WorkerArgs),
    /// Precompile the component to native code (a .cwasm that `run` loads in milliseconds).
    Compile {
        #[arg(long)]
        component: Option<PathBuf>,
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// List the component's imports.
    Imports {
        #[arg(long)]
        component: Option<PathBuf>,
    },
}

/// What an execution is granted and how far it may go.
#[derive(Args, Clone)]
struct SandboxArgs {
    /// Self-managed mode: grant the host's AWS_* variables, the AWS config folder
    /// (read-only) and egress to STS and the metadata endpoints. Default: SaaS, none of it.
    #[arg(long)]
    self_managed: bool,
    /// The AWS config folder granted in self-managed mode (default ~/.aws).
    #[arg(long, value_name = "DIR")]
    aws_config_dir: Option<PathBuf>,
    /// Also allow calls to this host (`host`, `host:port` or `*.domain`). Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// A private address range the implied AWS names may resolve to (VPC
    /// endpoints), e.g. 10.0.0.0/8. Nothing private is admitted otherwise.
    #[arg(long = "allow-cidr", value_name = "CIDR", value_parser = parse_cidr)]
    allow_cidrs: Vec<String>,
    /// Serve `camunda` documents from this folder (one file per documentId); a result
    /// asked for as a document (documentReturnFormat DOCUMENT) is stored there.
    #[arg(long, value_name = "DIR")]
    documents: Option<PathBuf>,
    /// The guest's memory limit (e.g. 256MiB).
    #[arg(long, value_name = "SIZE", default_value = "512MiB")]
    max_memory: String,
    /// Wall-clock limit per execution (e.g. 90s, 15m).
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    timeout: String,
    /// Outgoing HTTP requests per execution.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_requests)]
    max_requests: usize,
    /// The largest response body an execution may receive (e.g. 512MiB).
    #[arg(long, value_name = "SIZE", default_value = "512MiB")]
    max_response_bytes: String,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Args, Clone, Copy)]
struct EngineArgs {
    /// Allocate instances on demand instead of from a pre-reserved pool.
    #[arg(long)]
    no_pooling: bool,
}

impl SandboxArgs {
    fn limits(&self) -> Result<Limits> {
        Ok(Limits {
            max_memory: limits::parse_bytes(&self.max_memory)?,
            timeout: limits::parse_duration(&self.timeout)?,
            max_requests: self.max_requests,
            max_response_bytes: limits::parse_bytes(&self.max_response_bytes)?,
        })
    }

    fn settings(&self) -> Result<EngineSettings> {
        Ok(EngineSettings {
            pooling: !self.engine.no_pooling,
            max_memory: self.limits()?.max_memory,
            ..EngineSettings::default()
        })
    }

    fn runtime(&self) -> (RuntimeMode, Grants) {
        if self.self_managed {
            (
                RuntimeMode::SelfManaged,
                Grants::from_process(self.aws_config_dir.clone()),
            )
        } else {
            (RuntimeMode::Saas, Grants::default())
        }
    }

    fn policy(&self, input: &str) -> EgressPolicy {
        let mut policy = EgressPolicy::implied_by(input);
        self.allow_hosts.iter().for_each(|h| policy.allow(h));
        for cidr in &self.allow_cidrs {
            // Checked by clap's value parser already.
            let _ = policy.allow_cidr(cidr);
        }
        policy
    }
}

#[derive(Args)]
#[command(group(ArgGroup::new("transport").required(true).multiple(false).args(["replay", "record", "live"])))]
struct RunArgs {
    /// The connector's input JSON: a file, or - for standard input.
    #[arg(long)]
    input: String,
    /// The component (.wasm) or precompiled component (.cwasm). Default: the workspace's release build.
    #[arg(long)]
    component: Option<PathBuf>,
    /// Answer every request from this cassette; nothing reaches the network.
    #[arg(long, value_name = "CASSETTE")]
    replay: Option<PathBuf>,
    /// Forward requests to the real endpoints and write them, redacted, to this cassette.
    #[arg(long, value_name = "CASSETTE")]
    record: Option<PathBuf>,
    /// Forward requests to the real endpoints.
    #[arg(long)]
    live: bool,
    /// Pin the guest's clock in replay (RFC 3339, UTC); default: the cassette's `recordedAt`.
    #[arg(long)]
    clock: Option<String>,
    /// Indent the JSON output.
    #[arg(long)]
    pretty: bool,
    /// Print a short human summary instead of the JSON (the full result goes to --output).
    /// Sets `advanced.summary: true` in the input: the connector's own summary is what is
    /// shown, and the result written to --output carries it too.
    #[arg(long)]
    summary: bool,
    /// Also write the result (or error) JSON to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[derive(Args)]
#[command(group(ArgGroup::new("transport").required(true).multiple(false).args(["replay_dir", "live"])))]
struct RunManyArgs {
    /// A folder of input files (*.json).
    #[arg(long, value_name = "DIR")]
    inputs: PathBuf,
    /// Where each input's result (NAME.json) or error (NAME.error.json) goes.
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// Executions at once.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    #[arg(long)]
    component: Option<PathBuf>,
    /// Replay each input from the cassette of the same file name in this folder.
    #[arg(long, value_name = "DIR")]
    replay_dir: Option<PathBuf>,
    #[arg(long)]
    live: bool,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[derive(Args)]
struct WorkerArgs {
    /// The cluster's REST API (default: CAMUNDA_REST_ADDRESS, then ZEEBE_REST_ADDRESS,
    /// then http://localhost:8080/v2; `/v2` is appended when missing). Authentication
    /// comes from CAMUNDA_AUTH_STRATEGY and the other CAMUNDA_* variables.
    #[arg(long, value_name = "URL")]
    camunda_url: Option<String>,
    #[arg(long, value_name = "TYPE", default_value = textract_host::worker::JOB_TYPE)]
    job_type: String,
    /// How this worker names itself to the cluster (default: textract-host-<pid>).
    #[arg(long, value_name = "NAME")]
    worker_name: Option<String>,
    /// Executions at once: the most jobs this worker holds.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// How long the cluster reserves a job for this worker.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    job_timeout: String,
    /// How long an activation request waits for jobs when there are none.
    #[arg(long, value_name = "DURATION", default_value = "20s")]
    poll_timeout: String,
    /// Take only this tenant's jobs (repeatable; default: the cluster's default tenant).
    #[arg(long = "tenant", value_name = "ID")]
    tenants: Vec<String>,
    /// Serve Prometheus metrics at /metrics and /health on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "HOST:PORT")]
    metrics: Option<std::net::SocketAddr>,
    /// On SIGTERM or SIGINT, how long running jobs may take to finish.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    shutdown_grace: String,
    /// Activate one batch, run it, report, and exit.
    #[arg(long)]
    once: bool,
    /// The tenant policy (TOML): each tenant's mode, hosts, secrets file, limits and
    /// concurrency. Only these tenants' jobs are taken, each tenant on its own lane.
    #[arg(long, value_name = "FILE", conflicts_with = "tenants")]
    tenant_config: Option<PathBuf>,
    /// Self-managed secrets: `{{secrets.NAME}}` reads the environment variable PREFIX+NAME.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    secrets_env_prefix: String,
    #[arg(long)]
    component: Option<PathBuf>,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args).await,
        Command::RunMany(args) => run_many(args).await,
        Command::Worker(args) => worker(args).await,
        Command::Compile {
            component,
            output,
            engine,
        } => compile(component, &output, engine),
        Command::Imports { component } => imports(component),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("textract-host: {message}");
            ExitCode::from(1)
        }
    }
}

fn component_path(component: Option<PathBuf>) -> Result<PathBuf> {
    let path = component.unwrap_or_else(textract_host::default_component_path);
    if !path.is_file() {
        bail!(
            "no component at {} (build it with `make component`, or pass --component)",
            path.display()
        );
    }
    Ok(path)
}

fn imports(component: Option<PathBuf>) -> Result<ExitCode> {
    let harness = Harness::load(&component_path(component)?)?;
    for name in harness.imports() {
        stdout::print_line(&name).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn compile(component: Option<PathBuf>, output: &Path, engine: EngineArgs) -> Result<ExitCode> {
    let settings = EngineSettings {
        pooling: !engine.no_pooling,
        ..EngineSettings::default()
    };
    let bytes = Harness::compile(&component_path(component)?, output, &settings)?;
    eprintln!("textract-host: wrote {} ({bytes} bytes)", output.display());
    Ok(ExitCode::SUCCESS)
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let bytes = if args.input == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading the input from stdin")?;
        bytes
    } else {
        std::fs::read(&args.input).with_context(|| format!("cannot read input file {}", args.input))?
    };
    // Bytes that are not text are the tenant's error (exit 3), found without the guest.
    let input = match outcome::input_text(bytes) {
        Ok(text) => text,
        Err(e) => return report(&args, Err(e)),
    };
    // The human summary is the connector's own `summary` object, laid out.
    let input = match args.summary {
        true => textract_host::cli::summary::ask_for_summary(&input).unwrap_or(input),
        false => input,
    };
    let harness = Harness::load_with(&component_path(args.component.clone())?, args.sandbox.settings()?)?;
    let policy = args.sandbox.policy(&input);
    let (runtime, grants) = args.sandbox.runtime();

    let pinned = args.clock.as_deref().map(cassette::parse_rfc3339_utc).transpose()?;
    let deterministic_random = args.replay.is_some();
    let (mode, clock, replayer, recorded) = if let Some(path) = &args.replay {
        let cassette = Cassette::load(path)?;
        let time = cassette.replay_time(pinned)?;
        let base = path.parent().map(PathBuf::from).unwrap_or_default();
        let replayer = Arc::new(Mutex::new(Replayer::new(cassette, base)));
        (
            Mode::Replay(replayer.clone()),
            ExecutionClock::pinned(time),
            Some(replayer),
            None,
        )
    } else if args.record.is_some() {
        let recorded = Arc::new(Mutex::new(Vec::new()));
        (
            Mode::Record(recorded.clone()),
            ExecutionClock::real(),
            None,
            Some(recorded),
        )
    } else {
        (Mode::Live, ExecutionClock::real(), None, None)
    };

    let started_at = std::time::SystemTime::now();
    let execution = harness
        .execute(
            &input,
            ExecOptions {
                mode,
                policy: policy.clone(),
                clock,
                inherit_stderr: true,
                deterministic_random,
                documents: args.sandbox.documents.clone().map(FolderStore::shared),
                runtime,
                grants,
                limits: args.sandbox.limits()?,
            },
        )
        .await?;

    for denied in &execution.journal.denied {
        eprintln!(
            "textract-host: egress denied: {denied} (allowed: {})",
            if policy.patterns().is_empty() {
                "nothing".to_string()
            } else {
                policy.patterns().join(", ")
            }
        );
    }
    if let Some(problem) = execution.journal.problems.first() {
        bail!("{problem}");
    }
    if let Some(replayer) = replayer {
        let unused = replayer.lock().map_err(|_| anyhow!("replay state poisoned"))?.unused();
        if !unused.is_empty() {
            bail!("the cassette was not used up: {}", unused.join("; "));
        }
    }
    if let (Some(path), Some(recorded)) = (&args.record, recorded) {
        let interactions = recorded.lock().map_err(|_| anyhow!("record state poisoned"))?.clone();
        let at = started_at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Cassette {
            recorded_at: Some(cassette::format_rfc3339_utc(at)),
            interactions,
        }
        .save(path)?;
        eprintln!(
            "textract-host: recorded {} interaction(s) to {}",
            execution.journal.sent.len(),
            path.display()
        );
    }

    report(&args, execution.outcome)
}

/// Prints a result (exit 0) or an execution error (exit 3) on stdout, as JSON or
/// summarised, and writes it to `--output` when asked.
fn report(args: &RunArgs, outcome: std::result::Result<String, GuestError>) -> Result<ExitCode> {
    let (text, code) = match outcome {
        // The guest's own text, byte for byte, unless asked to indent it.
        Ok(json) if !args.pretty => (json, 0),
        Ok(json) => {
            let value: serde_json::Value =
                serde_json::from_str(&json).context("the connector returned invalid JSON")?;
            (serde_json::to_string_pretty(&value)?, 0)
        }
        Err(e) => {
            let value = serde_json::json!({ "error": e });
            let text = if args.pretty {
                serde_json::to_string_pretty(&value)?
            } else {
                serde_json::to_string(&value)?
            };
            (text, 3)
        }
    };
    if let Some(path) = &args.output {
        std::fs::write(path, format!("{text}\n")).with_context(|| format!("writing {}", path.display()))?;
    }
    let printed = if args.summary {
        let value: serde_json::Value = serde_json::from_str(&text).context("the connector returned invalid JSON")?;
        stdout::print_line(&textract_host::cli::summary::summarise(&value))
    } else {
        stdout::print_line(&text)
    };
    printed.context("writing to stdout")?;
    Ok(ExitCode::from(code))
}

async fn run_many(args: RunManyArgs) -> Result<ExitCode> {
    let harness = Arc::new(Harness::load_with(
        &component_path(args.component.clone())?,
        args.sandbox.settings()?,
    )?);
    let (runtime, grants) = args.sandbox.runtime();
    let sandbox_args = args.sandbox.clone();
    let plan = many::Plan {
        inputs: args.inputs.clone(),
        output: args.output.clone(),
        concurrency: args.concurrency.max(1),
        replay_dir: args.replay_dir.clone(),
        documents: args.sandbox.documents.clone(),
        runtime,
        grants,
        limits: args.sandbox.limits()?,
        policy: Arc::new(move |input: &str| sandbox_args.policy(input)),
    };
    let report = many::run(harness, plan).await?;
    stdout::print_line(&report.table()).context("writing to stdout")?;
    Ok(if report.failed_to_run() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn worker(args: WorkerArgs) -> Result<ExitCode> {
    use textract_host::worker::{self, client::CamundaClient, connection::Connection, metrics::Metrics};
    if args.sandbox.documents.is_some() {
        bail!("the worker reads camunda documents through the cluster's document API; --documents is for `run`");
    }
    let shutdown = shutdown_signal()?;
    let connection = Connection::resolve(args.camunda_url.as_deref(), |name| std::env::var(name).ok())?;
    let client = Arc::new(CamundaClient::new(connection)?);
    let metrics = Metrics::new();
    if let Some(address) = args.metrics {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot serve metrics on {address}"))?;
        tokio::spawn(metrics.clone().serve(listener));
    }
    let concurrency = args.concurrency.max(1);
    let limits = args.sandbox.limits()?;
    let lanes = match &args.tenant_config {
        None => {
            let (runtime, grants) = args.sandbox.runtime();
            let sandbox_args = args.sandbox.clone();
            vec![worker::Lane {
                tenant_ids: args.tenants.clone(),
                concurrency,
                sandbox: worker::Sandbox {
                    runtime,
                    grants,
                    limits,
                    policy: Arc::new(move |input: &str| sandbox_args.policy(input)),
                },
                secrets: Arc::new(match args.sandbox.self_managed {
                    true => SecretSource::Environment {
                        prefix: args.secrets_env_prefix.clone(),
                    },
                    false => SecretSource::None,
                }),
            }]
        }
        Some(path) => tenant_lanes(&args, path, concurrency, limits)?,
    };
    let max_memory = lanes.iter().map(|l| l.sandbox.limits.max_memory).max().unwrap_or(limits.max_memory);
    let settings = EngineSettings {
        // One pool slot per execution slot, and a few spare.
        pool_size: u32::try_from(concurrency + 2).unwrap_or(u32::MAX),
        max_memory,
        ..args.sandbox.settings()?
    };
    let harness = Arc::new(Harness::load_with(&component_path(args.component.clone())?, settings)?);
    let options = worker::WorkerOptions {
        job_type: args.job_type.clone(),
        worker_name: args
            .worker_name
            .clone()
            .unwrap_or_else(|| format!("textract-host-{}", std::process::id())),
        concurrency,
        job_timeout: limits::parse_duration(&args.job_timeout)?,
        request_timeout: limits::parse_duration(&args.poll_timeout)?,
        shutdown_grace: limits::parse_duration(&args.shutdown_grace)?,
        once: args.once,
        lanes,
    };
    let report = worker::run(harness, client, metrics, options, shutdown).await;
    match report.refused {
        Some(why) => bail!("the cluster refused the activation: {why}"),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// One lane per tenant of the policy file: its mode, hosts (added to the global
/// --allow-host entries), secrets, limits and share of the worker.
fn tenant_lanes(args: &WorkerArgs, path: &Path, concurrency: usize, limits: Limits) -> Result<Vec<textract_host::worker::Lane>> {
    use textract_host::worker::{tenants, Lane, Sandbox};
    let mut lanes = Vec::new();
    for tenant in tenants::load(path)? {
        let mut sandbox_args = args.sandbox.clone();
        sandbox_args.self_managed = tenant.self_managed;
        sandbox_args.allow_hosts.extend(tenant.allowed_hosts.iter().cloned());
        let (runtime, grants) = sandbox_args.runtime();
        let secrets = match (&tenant.secrets_file, tenant.self_managed) {
            (Some(file), _) => SecretSource::from_file(file).with_context(|| format!("tenant {:?}", tenant.id))?,
            (None, true) => SecretSource::Environment {
                prefix: args.secrets_env_prefix.clone(),
            },
            (None, false) => SecretSource::None,
        };
        lanes.push(Lane {
            tenant_ids: vec![tenant.id.clone()],
            concurrency: tenant.concurrency.unwrap_or(concurrency).min(concurrency),
            sandbox: Sandbox {
                runtime,
                grants,
                limits: Limits {
                    max_memory: tenant.max_memory.unwrap_or(limits.max_memory),
                    timeout: tenant.timeout.unwrap_or(limits.timeout),
                    ..limits
                },
                policy: Arc::new(move |input: &str| sandbox_args.policy(input)),
            },
            secrets: Arc::new(secrets),
        });
    }
    Ok(lanes)
}

/// SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// the future is first polled, so a signal that arrives while the worker starts
/// is a clean shutdown, never the default kill.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}

/// `--allow-cidr` must be a range, checked when the flags are read.
fn parse_cidr(text: &str) -> std::result::Result<String, String> {
    EgressPolicy::default().allow_cidr(text).map(|()| text.to_string())
}
