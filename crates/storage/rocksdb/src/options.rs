//! Tuning knobs for opening a store.

/// How to open a [`crate::Store`]. `StoreOptions::default()` is what a node uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Create the database (and its column families) when the directory is
    /// empty. Default `true`; tools that only inspect a chain set `false` so a
    /// typo in a path fails instead of creating an empty chain.
    pub create_if_missing: bool,
    /// Capacity of the shared LRU block cache, in bytes, across all column
    /// families. Default 64 MiB.
    pub block_cache_bytes: usize,
    /// Upper bound on open SST files (RocksDB `max_open_files`). Default 512.
    pub open_files_max: i32,
    /// fsync every block commit (`WriteOptions::set_sync(true)`). Default
    /// `true`: a commit reported to a client then survives power loss. Only
    /// throwaway databases (benchmarks) may turn it off.
    pub sync_writes: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            create_if_missing: true,
            block_cache_bytes: 64 * 1024 * 1024,
            open_files_max: 512,
            sync_writes: true,
        }
    }
}

impl StoreOptions {
    /// The RocksDB options these settings imply, for the database and for
    /// every column family. All of them share `cache`, so the bound holds for
    /// the database as a whole.
    pub(crate) fn rocks_options(&self, cache: &rocksdb::Cache) -> rocksdb::Options {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(self.create_if_missing);
        opts.create_missing_column_families(self.create_if_missing);
        opts.set_max_open_files(self.open_files_max);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(cache);
        // Point lookups (hash -> height, tx hash -> location, account reads)
        // dominate; bloom filters make misses cheap.
        table.set_bloom_filter(10.0, false);
        opts.set_block_based_table_factory(&table);
        opts
    }

    /// The one block cache all column families share.
    pub(crate) fn block_cache(&self) -> rocksdb::Cache {
        rocksdb::Cache::new_lru_cache(self.block_cache_bytes)
    }
}
