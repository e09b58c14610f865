//! `textract-host`: run the textract-connector component from the command line.
//!
//! Exit codes: 0 a result on stdout; 3 a connector error on stdout as
//! `{"error": {...}}`; 1 a harness failure, one line on stderr.

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{ArgGroup, Args, Parser, Subcommand};
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use textract_host::cassette::{self, Cassette};
use textract_host::egress::EgressPolicy;
use textract_host::engine::{ExecOptions, ExecutionClock, Harness};
use textract_host::transport::{Mode, Replayer};

#[derive(Parser)]
#[command(name = "textract-host", version, about = "Run the Amazon Textract connector component in a sandboxed Wasmtime host")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Execute the connector once on a JSON input.
    Run(RunArgs),
    /// List the component's imports.
    Imports {
        #[arg(long)]
        component: Option<PathBuf>,
    },
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
    /// Also allow calls to this host (`host`, `host:port` or `*.domain`). Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// Pin the guest's clock in replay (RFC 3339, UTC); default: the cassette's `recordedAt`.
    #[arg(long)]
    clock: Option<String>,
    /// Serve `camunda` documents from this folder (one file per documentId).
    #[arg(long, value_name = "DIR")]
    documents: Option<PathBuf>,
    /// Indent the JSON output.
    #[arg(long)]
    pretty: bool,
    /// Print a short human summary instead of the JSON (the full result goes to --output).
    #[arg(long)]
    summary: bool,
    /// Also write the result (or error) JSON to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args).await,
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

fn imports(component: Option<PathBuf>) -> Result<ExitCode> {
    let harness = Harness::load(&component.unwrap_or_else(textract_host::default_component_path))?;
    for name in harness.imports() {
        println!("{name}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let input = if args.input == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading the input from stdin")?;
        text
    } else {
        std::fs::read_to_string(&args.input).with_context(|| format!("cannot read input file {}", args.input))?
    };
    let component = args.component.clone().unwrap_or_else(textract_host::default_component_path);
    if !component.is_file() {
        bail!("no component at {} (build it with `make component`, or pass --component)", component.display());
    }
    let harness = Harness::load(&component)?;

    let mut policy = EgressPolicy::implied_by(&input);
    args.allow_hosts.iter().for_each(|h| policy.allow(h));

    let pinned = args.clock.as_deref().map(cassette::parse_rfc3339_utc).transpose()?;
    let deterministic_random = args.replay.is_some();
    let (mode, clock, replayer, recorded) = if let Some(path) = &args.replay {
        let cassette = Cassette::load(path)?;
        let time = match (pinned, cassette.recorded_at.as_deref()) {
            (Some(t), _) => t,
            (None, Some(at)) => cassette::parse_rfc3339_utc(at)?,
            (None, None) => cassette::parse_rfc3339_utc(textract_host::scenario::DEFAULT_REPLAY_TIME)?,
        };
        let base = path.parent().map(PathBuf::from).unwrap_or_default();
        let replayer = Arc::new(Mutex::new(Replayer::new(cassette, base)));
        (Mode::Replay(replayer.clone()), ExecutionClock::pinned(time), Some(replayer), None)
    } else if args.record.is_some() {
        let recorded = Arc::new(Mutex::new(Vec::new()));
        (Mode::Record(recorded.clone()), ExecutionClock::real(), None, Some(recorded))
    } else {
        (Mode::Live, ExecutionClock::real(), None, None)
    };

    let started_at = std::time::SystemTime::now();
    let execution = harness
        .execute(&input, ExecOptions {
                mode,
                policy: policy.clone(),
                clock,
                inherit_stderr: true,
                deterministic_random,
                documents: args.documents.clone(),
            })
        .await?;

    for denied in &execution.journal.denied {
        eprintln!(
            "textract-host: egress denied: {denied} (allowed: {})",
            if policy.patterns().is_empty() { "nothing".to_string() } else { policy.patterns().join(", ") }
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
        let at = started_at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        Cassette { recorded_at: Some(cassette::format_rfc3339_utc(at)), interactions }.save(path)?;
        eprintln!("textract-host: recorded {} interaction(s) to {}", execution.journal.sent.len(), path.display());
    }

    let (text, code) = match execution.outcome {
        // The guest's own text, byte for byte, unless asked to indent it.
        Ok(json) if !args.pretty => (json, 0),
        Ok(json) => {
            let value: serde_json::Value = serde_json::from_str(&json).context("the connector returned invalid JSON")?;
            (serde_json::to_string_pretty(&value)?, 0)
        }
        Err(e) => {
            let value = serde_json::json!({ "error": e });
            let text = if args.pretty { serde_json::to_string_pretty(&value)? } else { serde_json::to_string(&value)? };
            (text, 3)
        }
    };
    if let Some(path) = &args.output {
        std::fs::write(path, format!("{text}\n")).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.summary {
        let value: serde_json::Value = serde_json::from_str(&text).context("the connector returned invalid JSON")?;
        println!("{}", textract_host::summary::summarise(&value));
    } else {
        println!("{text}");
    }
    Ok(ExitCode::from(code))
}
