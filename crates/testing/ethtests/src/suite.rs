//! Suite plumbing shared by the runners: locating the fixtures, running files
//! in parallel, and summarising results.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Environment variable overriding the fixtures' location.
pub const DATA_DIR_ENV: &str = "PHALANX_ETHTESTS_DIR";

/// Environment variable setting the number of worker threads (default 2).
pub const THREADS_ENV: &str = "PHALANX_ETHTESTS_THREADS";

/// Environment variable restricting a run to files whose relative path
/// contains this substring (for debugging one fixture).
pub const FILTER_ENV: &str = "PHALANX_ETHTESTS_FILTER";

/// Upper bound on worker threads, whatever the environment asks for.
const THREADS_MAX: usize = 64;

/// Fixtures could not be located or listed.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The fixture directory does not exist.
    #[error(
        "ethereum/tests fixtures not found at {path} (set {DATA_DIR_ENV} to the directory \
         holding GeneralStateTests/ and BlockchainTests/)"
    )]
    MissingData {
        /// Where they were looked for.
        path: PathBuf,
    },
    /// The directory exists but holds no JSON fixtures.
    #[error("no JSON fixtures under {path}")]
    Empty {
        /// The directory searched.
        path: PathBuf,
    },
    /// Walking the directory failed.
    #[error("cannot list {path}: {message}")]
    Walk {
        /// The directory searched.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
}

/// The ethereum-tests root: `$PHALANX_ETHTESTS_DIR`, else the shared copy
/// beside the workspace. Errors (never silently passes) when it is missing.
pub fn data_dir() -> Result<PathBuf, SuiteError> {
    let path = std::env::var_os(DATA_DIR_ENV).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/ethereum-tests")
    });
    if !path.is_dir() {
        return Err(SuiteError::MissingData { path });
    }
    Ok(path)
}

/// Every `*.json` file under `dir`, sorted for reproducible order.
pub fn json_files(dir: &Path) -> Result<Vec<PathBuf>, SuiteError> {
    if !dir.is_dir() {
        return Err(SuiteError::MissingData { path: dir.to_path_buf() });
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry
            .map_err(|e| SuiteError::Walk { path: dir.to_path_buf(), message: e.to_string() })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|x| x == "json") {
            files.push(entry.into_path());
        }
    }
    if files.is_empty() {
        return Err(SuiteError::Empty { path: dir.to_path_buf() });
    }
    files.sort();
    Ok(files)
}

/// `path` relative to `root` with `/` separators (the skip list's key).
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// What happened to one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Matched the fixture.
    Pass,
    /// Did not match; the message says how.
    Fail(String),
    /// Deliberately not run; the message says why.
    Skip(String),
}

/// The result of one case (a post entry of a state test, or a blockchain test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// Fixture file, relative to the data root.
    pub file: String,
    /// Test name inside the file ("*" when the whole file was handled at once).
    pub test: String,
    /// Which case inside the test (e.g. "d0 g1 v0"), empty when not applicable.
    pub case: String,
    /// What happened.
    pub outcome: Outcome,
}

impl CaseResult {
    /// The result of test `test` of fixture `file` as a whole (no case label).
    pub fn whole(file: &str, test: &str, outcome: Outcome) -> Self {
        Self { file: file.to_string(), test: test.to_string(), case: String::new(), outcome }
    }
}

/// Fixture `path` (named relative to `root`) read and parsed with its name,
/// or the single result that stands for the whole file: skipped (the skip
/// list names it) or failed (unreadable or not the expected JSON).
pub(crate) fn load_fixture<T: serde::de::DeserializeOwned>(
    root: &Path,
    path: &Path,
    skip: &crate::skip::SkipList,
) -> Result<(String, T), Vec<CaseResult>> {
    let file = relative(root, path);
    let whole = |outcome| vec![CaseResult::whole(&file, "*", outcome)];
    if let Some(reason) = skip.file_reason(&file) {
        return Err(whole(Outcome::Skip(reason.to_string())));
    }
    let parsed = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()));
    match parsed {
        Ok(parsed) => Ok((file, parsed)),
        Err(e) => Err(whole(Outcome::Fail(format!("cannot parse fixture: {e}")))),
    }
}

/// The results of one fixture file and how long it took.
#[derive(Debug, Clone)]
pub struct FileRun {
    /// The fixture file.
    pub path: PathBuf,
    /// Wall-clock time spent on it.
    pub elapsed: Duration,
    /// Its cases.
    pub results: Vec<CaseResult>,
}

/// Runs `run` on every file with `threads` workers (files are handed out one
/// at a time, so slow files do not stall a fixed partition). A panic while
/// running a file is reported as that file's failure. Output is in file order.
pub fn run_parallel<F>(files: &[PathBuf], threads: usize, run: F) -> Vec<FileRun>
where
    F: Fn(&Path) -> Vec<CaseResult> + Sync,
{
    let next = AtomicUsize::new(0);
    let threads = threads.clamp(1, THREADS_MAX);
    let mut runs: Vec<FileRun> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { break };
                        let start = Instant::now();
                        out.push(FileRun {
                            path: path.clone(),
                            results: run_one(path, &run),
                            elapsed: start.elapsed(),
                        });
                    }
                    out
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("workers catch panics")).collect()
    });
    runs.sort_by(|a, b| a.path.cmp(&b.path));
    runs
}

fn run_one<F: Fn(&Path) -> Vec<CaseResult>>(path: &Path, run: &F) -> Vec<CaseResult> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(path))) {
        Ok(results) => results,
        Err(panic) => vec![CaseResult {
            file: path.display().to_string(),
            test: "*".into(),
            case: String::new(),
            outcome: Outcome::Fail(format!("panicked: {}", panic_text(&*panic))),
        }],
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

/// Worker count: `$PHALANX_ETHTESTS_THREADS`, default 2.
pub fn threads_from_env() -> usize {
    std::env::var(THREADS_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(2)
}

/// Runs every fixture under `subdir` of the data root with `run(root, file,
/// skip list)`, in parallel, honouring [`FILTER_ENV`] and [`THREADS_ENV`].
pub fn run_suite<F>(subdir: &str, run: F) -> Result<Summary, SuiteError>
where
    F: Fn(&Path, &Path, &crate::SkipList) -> Vec<CaseResult> + Sync,
{
    let root = data_dir()?;
    let mut files = json_files(&root.join(subdir))?;
    if let Ok(filter) = std::env::var(FILTER_ENV) {
        files.retain(|f| relative(&root, f).contains(&filter));
    }
    let skip = crate::SkipList::builtin();
    let runs = run_parallel(&files, threads_from_env(), |path| run(&root, path, &skip));
    let mut summary = Summary::of(runs.iter().flat_map(|r| &r.results));
    let mut by_time: Vec<&FileRun> = runs.iter().collect();
    by_time.sort_by_key(|r| std::cmp::Reverse(r.elapsed));
    summary.slowest =
        by_time.iter().take(SLOWEST_SHOWN).map(|r| (relative(&root, &r.path), r.elapsed)).collect();
    Ok(summary)
}

/// Counts and the failures of a suite run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Cases that matched.
    pub passed: usize,
    /// Cases that did not.
    pub failed: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// Skipped-case counts per reason.
    pub skip_reasons: BTreeMap<String, usize>,
    /// The failing cases, in file order.
    pub failures: Vec<CaseResult>,
    /// The slowest files with their run time, slowest first.
    pub slowest: Vec<(String, Duration)>,
}

/// How many of the slowest files a suite summary lists.
pub const SLOWEST_SHOWN: usize = 5;

/// How many failures [`Summary`]'s display lists.
pub const FAILURES_SHOWN_MAX: usize = 20;

impl Summary {
    /// Tallies results.
    pub fn of<'a>(results: impl IntoIterator<Item = &'a CaseResult>) -> Self {
        let mut s = Summary::default();
        for r in results {
            match &r.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Fail(_) => {
                    s.failed += 1;
                    s.failures.push(r.clone());
                }
                Outcome::Skip(reason) => {
                    s.skipped += 1;
                    *s.skip_reasons.entry(reason.clone()).or_default() += 1;
                }
            }
        }
        s
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "passed {}, failed {}, skipped {}", self.passed, self.failed, self.skipped)?;
        for (reason, n) in &self.skip_reasons {
            writeln!(f, "  skipped {n}: {reason}")?;
        }
        for (file, elapsed) in &self.slowest {
            writeln!(f, "  slow: {file} took {elapsed:.1?}")?;
        }
        for r in self.failures.iter().take(FAILURES_SHOWN_MAX) {
            if let Outcome::Fail(why) = &r.outcome {
                writeln!(f, "FAIL {} :: {} [{}]: {}", r.file, r.test, r.case, why)?;
            }
        }
        if self.failures.len() > FAILURES_SHOWN_MAX {
            writeln!(f, "... and {} more failures", self.failures.len() - FAILURES_SHOWN_MAX)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_run_collects_everything_and_contains_panics() {
        let files: Vec<PathBuf> = (0..10).map(|i| PathBuf::from(format!("f{i}.json"))).collect();
        let runs = run_parallel(&files, 3, |p| {
            if p == Path::new("f3.json") {
                panic!("boom");
            }
            vec![CaseResult {
                file: p.display().to_string(),
                test: "t".into(),
                case: String::new(),
                outcome: Outcome::Pass,
            }]
        });
        assert_eq!(runs.len(), 10);
        let summary = Summary::of(runs.iter().flat_map(|r| &r.results));
        assert_eq!((summary.passed, summary.failed), (9, 1));
        assert!(summary.to_string().contains("boom"));
    }

    #[test]
    fn relative_paths_use_slashes() {
        assert_eq!(relative(Path::new("/a"), Path::new("/a/b/c.json")), "b/c.json");
    }

    #[test]
    fn missing_directory_is_an_error() {
        assert!(json_files(Path::new("/nonexistent/ethtests")).is_err());
    }
}
