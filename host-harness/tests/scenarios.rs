//! Runs every scenario folder under `tests/` through the component in replay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

#[test]
fn every_scenario_passes() {
    let root = common::workspace().join("tests");
    let dirs = textract_host::testkit::scenario::discover(&root).unwrap();
    assert!(
        dirs.len() >= 20,
        "expected the scenario folders under {}, found {}",
        root.display(),
        dirs.len()
    );
    let harness = common::harness();
    let rt = common::runtime();
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        match rt.block_on(textract_host::testkit::scenario::run(harness, dir)) {
            Ok(outcome) => println!(
                "scenario {name}: ok ({} request(s), {:.1} ms, {:.0} s on the replay clock)",
                outcome.requests,
                outcome.elapsed.as_secs_f64() * 1e3,
                outcome.clock_elapsed.as_secs_f64()
            ),
            Err(e) => {
                println!("scenario {name}: FAILED\n  {e:#}");
                failures.push(name);
            }
        }
    }
    println!("{} scenarios, {} failed", dirs.len(), failures.len());
    assert!(failures.is_empty(), "failed scenarios: {failures:?}");
}
