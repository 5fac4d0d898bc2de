//! The skip list: fixtures the runners deliberately do not run, each with the
//! reason. The list lives in `skip.toml` at the crate root and is compiled in.

use serde::Deserialize;

/// The crate's `skip.toml`, compiled in so the list cannot go missing.
const BUILTIN: &str = include_str!("../skip.toml");

/// One skipped fixture file (or one named test inside it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SkipEntry {
    /// Path relative to the ethereum-tests root, with `/` separators.
    pub path: String,
    /// A single test name inside the file; the whole file when absent.
    #[serde(default)]
    pub test: Option<String>,
    /// Why it is skipped (must be non-empty).
    pub reason: String,
}

/// A parsed skip list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SkipList {
    /// The entries, in file order.
    #[serde(default)]
    pub skip: Vec<SkipEntry>,
    /// Fixtures (or tests) still run serially but not through the parallel
    /// engine's cross-check ([`crate::ParallelCheck`]), in file order.
    #[serde(default)]
    pub parallel_skip: Vec<SkipEntry>,
}

/// A skip list that does not parse or has an entry without a reason.
#[derive(Debug, thiserror::Error)]
pub enum SkipListError {
    /// The TOML is malformed.
    #[error("skip list does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    /// An entry has an empty reason.
    #[error("skip list entry {path} has no reason")]
    MissingReason {
        /// The entry's path.
        path: String,
    },
}

impl SkipList {
    /// Parses a skip list, rejecting entries without a reason.
    pub fn parse(text: &str) -> Result<Self, SkipListError> {
        let list: SkipList = toml::from_str(text)?;
        let mut entries = list.skip.iter().chain(&list.parallel_skip);
        if let Some(e) = entries.find(|e| e.reason.trim().is_empty()) {
            return Err(SkipListError::MissingReason { path: e.path.clone() });
        }
        Ok(list)
    }

    /// The crate's own `skip.toml`.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN).expect("the crate's skip.toml is valid (checked by a unit test)")
    }

    /// Why the whole file at `relative_path` is skipped, if it is.
    pub fn file_reason(&self, relative_path: &str) -> Option<&str> {
        self.skip
            .iter()
            .find(|e| e.test.is_none() && e.path == relative_path)
            .map(|e| e.reason.as_str())
    }

    /// Why test `name` of the file at `relative_path` is skipped, if it is.
    pub fn test_reason(&self, relative_path: &str, name: &str) -> Option<&str> {
        matching(&self.skip, relative_path, name)
    }

    /// Why test `name` of the file at `relative_path` is not cross-checked
    /// through the parallel engine, if it is not (it still runs serially).
    pub fn parallel_reason(&self, relative_path: &str, name: &str) -> Option<&str> {
        matching(&self.parallel_skip, relative_path, name)
    }
}

/// The reason of the first entry covering test `name` of `relative_path`.
fn matching<'a>(entries: &'a [SkipEntry], relative_path: &str, name: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|e| e.path == relative_path && e.test.as_deref().is_none_or(|t| t == name))
        .map(|e| e.reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_parses_and_every_entry_has_a_reason() {
        let list = SkipList::parse(BUILTIN).unwrap();
        assert!(!list.skip.is_empty());
    }

    #[test]
    fn entries_match_files_and_tests() {
        let list = SkipList::parse(
            "[[skip]]\npath = \"a/b.json\"\nreason = \"slow\"\n\
             [[skip]]\npath = \"a/c.json\"\ntest = \"t1\"\nreason = \"broken\"\n",
        )
        .unwrap();
        assert_eq!(list.file_reason("a/b.json"), Some("slow"));
        assert_eq!(list.file_reason("a/c.json"), None);
        assert_eq!(list.test_reason("a/c.json", "t1"), Some("broken"));
        assert_eq!(list.test_reason("a/c.json", "t2"), None);
        assert!(SkipList::parse("[[skip]]\npath = \"x\"\nreason = \" \"\n").is_err());
        assert!(SkipList::parse("[[parallel_skip]]\npath = \"x\"\nreason = \"\"\n").is_err());
    }

    #[test]
    fn parallel_skips_do_not_skip_the_serial_run() {
        let list =
            SkipList::parse("[[parallel_skip]]\npath = \"a/b.json\"\nreason = \"slow\"\n").unwrap();
        assert_eq!(list.file_reason("a/b.json"), None);
        assert_eq!(list.test_reason("a/b.json", "t"), None);
        assert_eq!(list.parallel_reason("a/b.json", "t"), Some("slow"));
        assert_eq!(list.parallel_reason("a/c.json", "t"), None);
    }
}
