//! POLLING: start a job, wait for it with a backoff that grows to a cap within
//! a window, then read every result page and merge them into Camunda's POLLING
//! shape (the last page's fields, all blocks in order, every page's warnings).
//!
//! Pages are rendered to JSON as they arrive and only the rendered text is
//! kept, so peak memory stays near twice the result, not the sum of every
//! page's raw body, parsed form and output. With `advanced.summary`, each page's
//! blocks also go into the summary's compact form (a relationship may name a
//! block of a later page); with `advanced.blocks: false` they are not rendered.

use super::result_store::{self, StoredResult};
use crate::aws::textract::{DocumentMetadata, GetDocumentAnalysisResponse, Warning};
use crate::camunda::output::{self, JsonOut};
use crate::camunda::summary::Collector;
use crate::camunda::validation::{OutputOptions, Task};
use crate::duration::human;
use crate::error::{Error, Result};
use crate::platform::http::HttpResponse;
use crate::platform::Context;

pub fn run(ctx: &mut Context<'_>, task: &Task) -> Result<String> {
    let token = super::job::client_request_token(ctx, task);
    let document = super::job::job_document(ctx, task, &token)?;
    let result = start_and_wait(ctx, task, &document, &token);
    if document.staged {
        // The staged copy goes whether the job worked or not; failing to delete
        // it must not hide the result (or the error) of the job itself.
        let deleted = super::job::s3_client(task).delete_object(
            ctx,
            &document.bucket,
            &document.key,
            document.version.as_deref(),
        );
        match deleted {
            Ok(()) => ctx.platform.progress(&format!(
                "textract: deleted the staged s3://{}/{}",
                document.bucket, document.key
            )),
            Err(e) => ctx.platform.progress(&format!(
                "textract: could not delete the staged s3://{}/{}: {}",
                document.bucket,
                document.key,
                e.message()
            )),
        }
    }
    result
}

/// The most IN_PROGRESS polls of one job: a day at the 30 s default cap is 2,880.
pub const MAX_POLLS: u32 = 3_000;

/// More GetDocumentAnalysis pages than a real job returns: Textract takes
/// documents of up to 3,000 pages, at most 1,000 blocks come per page.
pub const MAX_RESULT_PAGES: u32 = 20_000;

fn start_and_wait(
    ctx: &mut Context<'_>,
    task: &Task,
    document: &super::job::JobDocument,
    token: &str,
) -> Result<String> {
    let (_, job_id) = super::job::start_job(ctx, task, document, token, false)?;
    ctx.platform.progress(&format!("textract: started job {job_id}"));

    let started = ctx.platform.monotonic();
    let mut interval = task.poll.interval;
    let mut polls = 0u32;
    loop {
        let waited = ctx.platform.monotonic().saturating_sub(started);
        // The window ends the wait; so does a count of polls no real job needs
        // (a window of days at a short interval would be a request flood).
        if waited >= task.poll.timeout || polls >= MAX_POLLS {
            return Err(Error::JobPending {
                code: "PollTimeout",
                message: format!(
                    "Textract job {job_id} is still IN_PROGRESS after waiting {} over {polls} polls \
                     (advanced.pollTimeout {}); collect it later with a FETCH task, or allow a longer pollTimeout",
                    human(waited),
                    human(task.poll.timeout)
                ),
            });
        }
        ctx.platform.sleep(interval.min(task.poll.timeout - waited));
        polls += 1;
        let response = super::job::get_page(ctx, task, &job_id, None)?;
        let page = super::job::parse_page(&response)?;
        match page.job_status.as_deref() {
            Some("IN_PROGRESS") => {
                let elapsed = ctx.platform.monotonic().saturating_sub(started);
                interval = (interval * 2).min(task.poll.max_interval);
                ctx.platform.progress(&format!(
                    "textract: job {job_id} IN_PROGRESS, poll {polls}, {} elapsed, next poll in {}",
                    human(elapsed),
                    human(interval)
                ));
            }
            _ => return finish(ctx, task, &job_id, &response, page),
        }
    }
}

/// Turns the first page of a finished job into the result, reading the rest.
pub(crate) fn finish(
    ctx: &mut Context<'_>,
    task: &Task,
    job_id: &str,
    response: &HttpResponse,
    page: GetDocumentAnalysisResponse<'_>,
) -> Result<String> {
    match page.job_status.as_deref() {
        Some("SUCCEEDED") | Some("PARTIAL_SUCCESS") => {}
        Some("FAILED") => {
            return Err(Error::JobFailed {
                job_id: job_id.to_string(),
                status_message: page.status_message.unwrap_or_else(|| "no status message".into()),
            })
        }
        other => {
            return Err(Error::UnexpectedResponse(format!(
                "job {job_id} has status {}",
                other.unwrap_or("(none)")
            )))
        }
    }
    let mut merged = Merged::new(task.output);
    let mut next = merged.add(response, page);
    result_store::check_size(ctx, task, merged.held())?;
    let mut pages = 1u32;
    // A hostile or broken service must not keep the loop going: a token seen
    // before, or more pages than any real job has, ends it.
    let mut seen = std::collections::HashSet::new();
    while let Some(token) = next {
        if !seen.insert(token.clone()) {
            return Err(Error::Protocol {
                code: "PaginationLoop",
                message: format!(
                    "GetDocumentAnalysis for job {job_id} returned a NextToken it had returned before (page {pages}); \
                     the results cannot be read to the end"
                ),
            });
        }
        if pages >= MAX_RESULT_PAGES {
            return Err(Error::Protocol {
                code: "TooManyPages",
                message: format!(
                    "Job {job_id} has more than {MAX_RESULT_PAGES} result pages, more than any real job; stopped"
                ),
            });
        }
        let response = super::job::get_page(ctx, task, job_id, Some(&token))?;
        pages += 1;
        next = merged.add(&response, super::job::parse_page(&response)?);
        result_store::check_size(ctx, task, merged.held())?;
        if pages.is_multiple_of(10) {
            ctx.platform.progress(&format!(
                "textract: job {job_id} results: page {pages}, {} blocks so far",
                merged.blocks
            ));
        }
    }
    ctx.platform.progress(&format!(
        "textract: job {job_id} {}: {pages} result page(s), {} blocks",
        merged.status.as_deref().unwrap_or(""),
        merged.blocks
    ));
    let full = if merged.collector.is_some() {
        merged.finish_summary();
        let full = merged.render(None);
        // The summary was counted by its blocks while pages came; now by its text.
        result_store::check_size(ctx, task, full.len())?;
        full
    } else {
        merged.render(None)
    };
    match result_store::store_if_too_large(ctx, task, &full, job_id, merged.blocks)? {
        Some(stored) => {
            drop(full);
            Ok(merged.render(Some(&stored)))
        }
        None => Ok(full),
    }
}

/// The merged result so far: the latest page's fields and every page's blocks,
/// already rendered, and warnings.
#[derive(Default)]
struct Merged {
    options: OutputOptions,
    /// The summary's view of every page's blocks, while pages arrive.
    collector: Option<Collector>,
    /// `"summary":{...}`, once every page is in.
    summary: Option<String>,
    response: Option<HttpResponse>,
    metadata: Option<DocumentMetadata>,
    status: Option<String>,
    status_message: Option<String>,
    model_version: Option<String>,
    /// Rendered blocks of each page, without brackets.
    fragments: Vec<String>,
    blocks: usize,
    /// The rendered blocks' bytes so far.
    bytes: usize,
    /// None until some page carries the field.
    warnings: Option<Vec<Warning>>,
}

impl Merged {
    fn new(options: OutputOptions) -> Self {
        Merged {
            options,
            collector: options.summary.then(Collector::new),
            ..Merged::default()
        }
    }

    /// The bytes held for the result so far: rendered blocks and the summary's blocks.
    fn held(&self) -> usize {
        self.bytes + self.collector.as_ref().map_or(0, Collector::approx_bytes)
    }

    /// Takes in one page (rendering its blocks at once); returns its NextToken.
    fn add(&mut self, response: &HttpResponse, page: GetDocumentAnalysisResponse<'_>) -> Option<String> {
        if let Some(blocks) = page.blocks.as_deref().filter(|b| !b.is_empty()) {
            self.blocks += blocks.len();
            if self.options.blocks {
                let mut out = JsonOut::with_capacity(blocks.len() * 700);
                output::write_blocks(&mut out, blocks, true);
                out.buf.shrink_to_fit();
                self.bytes += out.buf.len();
                self.fragments.push(out.buf);
            }
            if let Some(collector) = &mut self.collector {
                collector.add(blocks);
            }
        }
        if let Some(warnings) = page.warnings {
            let merged = self.warnings.get_or_insert_with(Vec::new);
            for w in warnings {
                if !merged.contains(&w) {
                    merged.push(w);
                }
            }
        }
        // The headers are what the result shows of the response; the body is done with.
        self.response = Some(HttpResponse {
            status: response.status,
            headers: response.headers.clone(),
            body: Vec::new(),
        });
        self.metadata = page.document_metadata.or(self.metadata.take());
        self.status = page.job_status.or(self.status.take());
        self.status_message = page.status_message;
        self.model_version = page.analyze_document_model_version.or(self.model_version.take());
        page.next_token.filter(|t| !t.is_empty())
    }

    /// Renders the summary once every page is in, and frees its blocks.
    fn finish_summary(&mut self) {
        if let Some(collector) = self.collector.take() {
            let mut out = JsonOut::with_capacity(collector.approx_bytes() / 2);
            collector.write(&mut out);
            out.buf.shrink_to_fit();
            self.summary = Some(out.buf);
        }
    }

    /// The POLLING result; with `stored`, one whose blocks live in S3.
    fn render(&self, stored: Option<&StoredResult>) -> String {
        let with_blocks = stored.is_none() && self.options.blocks;
        let blocks_len: usize = if with_blocks {
            self.fragments.iter().map(|f| f.len() + 1).sum()
        } else {
            0
        };
        let summary_len = self.summary.as_ref().map_or(0, String::len);
        let mut out = JsonOut::with_capacity(blocks_len + summary_len + 2048);
        out.raw("{");
        if let Some(response) = &self.response {
            output::write_sdk_metadata(&mut out, response);
            out.raw(",");
        }
        output::write_document_metadata(&mut out, self.metadata.as_ref());
        out.raw(",");
        out.key("jobStatus");
        out.opt_str(self.status.as_deref());
        out.raw(",");
        out.key("nextToken");
        out.null();
        out.raw(",");
        out.key("blocks");
        if !with_blocks {
            out.null();
        } else {
            out.raw("[");
            for (i, fragment) in self.fragments.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw(fragment);
            }
            out.raw("]");
        }
        out.raw(",");
        output::write_warnings(&mut out, self.warnings.as_deref());
        out.raw(",");
        out.key("statusMessage");
        out.opt_str(self.status_message.as_deref());
        out.raw(",");
        out.key("analyzeDocumentModelVersion");
        out.opt_str(self.model_version.as_deref());
        if let Some(summary) = &self.summary {
            out.raw(",");
            out.raw(summary);
        }
        if let Some(stored) = stored {
            out.raw(",");
            stored.write(&mut out);
        }
        out.raw("}");
        out.buf
    }
}

#[cfg(test)]
mod tests {
    use crate::execute;
    use crate::platform::fake::FakeHost;
    use crate::platform::http::HttpResponse;
    use serde_json::{json, Value};

    /// FETCH over two result pages: a KEY on the first, its VALUE and words on the second.
    fn fetch(advanced: Value) -> String {
        let input = json!({
            "authentication": {"accessKey": "AKIDEXAMPLE", "secretKey": "secret"},
            "configuration": {"region": "us-east-1"},
            "input": {"executionType": "FETCH", "jobId": "job-1"},
            "advanced": advanced
        });
        let page = |body: Value| {
            Ok(HttpResponse {
                status: 200,
                headers: vec![],
                body: body.to_string().into_bytes(),
            })
        };
        let mut host = FakeHost::answering(vec![
            page(json!({"JobStatus": "SUCCEEDED", "NextToken": "t2", "Blocks": [
                {"BlockType": "PAGE", "Id": "p1", "Page": 1},
                {"BlockType": "KEY_VALUE_SET", "Id": "k", "Page": 1, "EntityTypes": ["KEY"], "Confidence": 90.0,
                 "Relationships": [{"Type": "VALUE", "Ids": ["v"]}, {"Type": "CHILD", "Ids": ["w1"]}]}]})),
            page(json!({"JobStatus": "SUCCEEDED", "Blocks": [
                {"BlockType": "KEY_VALUE_SET", "Id": "v", "Page": 1, "EntityTypes": ["VALUE"], "Confidence": 80.0,
                 "Relationships": [{"Type": "CHILD", "Ids": ["w2"]}]},
                {"BlockType": "WORD", "Id": "w1", "Page": 1, "Text": "Total:"},
                {"BlockType": "WORD", "Id": "w2", "Page": 1, "Text": "12.00"}]})),
        ]);
        host.run(|ctx| execute(ctx, &input.to_string())).unwrap()
    }

    #[test]
    fn the_summary_reads_relationships_across_result_pages() {
        let plain = fetch(json!({}));
        assert!(!plain.contains("\"summary\""));
        let with_summary = fetch(json!({"summary": true}));
        let summary = r#""summary":{"pages":[{"page":1,"lines":[],"layout":null}],"keyValues":[{"key":"Total:","value":"12.00","keyConfidence":90.0,"valueConfidence":80.0,"page":1,"selected":null}],"tables":[],"queries":{},"signatures":[]}"#;
        assert_eq!(
            with_summary,
            format!("{},{summary}}}", plain.strip_suffix('}').unwrap())
        );
        let v: Value = serde_json::from_str(&fetch(json!({"summary": true, "blocks": false}))).unwrap();
        assert_eq!(v["blocks"], Value::Null);
        assert_eq!(v["summary"]["keyValues"][0]["value"], "12.00");
        assert_eq!(v["nextToken"], Value::Null);
    }
}
