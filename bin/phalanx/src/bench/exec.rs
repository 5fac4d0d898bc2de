//! `phalanx bench exec`: serial versus parallel execution of the same block.
//!
//! For each workload and conflict level, one prepared block runs through the
//! serial executor, the leader's optimistic parallel executor (Block-STM) and
//! the validator's schedule-guided executor, alternating engines across
//! repeats so machine noise hits all alike. Every parallel outcome is checked
//! equal to the serial one before any number is printed. Reported: medians of
//! tx/s and gas/s, speedup over serial, CPU-seconds relative to serial (work
//! efficiency), re-executions and aborts, the speedup bound the recorded
//! dependency graph allows at 2..64 cores, and how well the static
//! (DiPETrans-style) prediction agreed with the observed conflicts, and how
//! much parallelism the machine itself gave during the row (see
//! [`super::probe`]): no executor can beat that ceiling.

use anyhow::{ensure, Context};
use phalanx_execution_evm::{execute_block, BlockOutcome};
use phalanx_execution_parallel::{
    block_graph, execute_leader, execute_scheduled, schedule_for, ParallelConfig, ParallelOutcome,
    ScheduleVerdict,
};
use phalanx_execution_schedule::{agreement, analyse_graph, predict, StaticTxInfo};
use phalanx_testing_workloads::{prepare, Conflict, Prepared, WorkloadKind, WorkloadSpec};
use std::time::Instant;

/// Arguments of `phalanx bench exec`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExecArgs {
    /// Workloads: transfer, erc20, uniswap, kvstore, cpuheavy, mixed, or `all`.
    #[arg(long, value_delimiter = ',', default_value = "transfer,erc20")]
    workload: Vec<String>,
    /// Conflict levels: fractions of transactions on one hot location (0..1),
    /// or `chain` for one sender's nonce chain (a fully dependent block).
    #[arg(long, value_delimiter = ',', default_value = "0,0.1,1,chain")]
    conflict: Vec<String>,
    /// Worker threads of the parallel executors.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Transactions per block.
    #[arg(long, default_value_t = 2_000)]
    txs: usize,
    /// Measured runs of each engine (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Blocks smaller than this run serially in the parallel engines (the
    /// node's default); 0 forces the parallel paths, to find the crossover.
    #[arg(long, default_value_t = phalanx_execution_parallel::DEFAULT_MIN_TXS_PARALLEL)]
    min_txs_parallel: usize,
    /// Blocks whose known dependencies bound the speedup below this percent
    /// of serial run serially (the node's default); 0 forces the parallel paths.
    #[arg(long, default_value_t = phalanx_execution_parallel::SEQUENTIAL_BOUND_PERCENT)]
    sequential_bound_percent: u32,
}

/// CPU time (user + system) this process has used so far, in seconds.
fn cpu_seconds() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage(RUSAGE_SELF) cannot fail");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(usage.user_time()) + secs(usage.system_time())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn parse_conflict(s: &str) -> anyhow::Result<Conflict> {
    if s == "chain" {
        return Ok(Conflict::Chain);
    }
    let ratio: f64 = s.parse().with_context(|| format!("conflict `{s}`: a number or `chain`"))?;
    ensure!((0.0..=1.0).contains(&ratio), "conflict `{s}` must be between 0 and 1");
    Ok(Conflict::HotKey { ratio })
}

fn parse_kinds(names: &[String]) -> anyhow::Result<Vec<WorkloadKind>> {
    if names.iter().any(|n| n == "all") {
        return Ok(WorkloadKind::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| {
            WorkloadKind::from_name(n).with_context(|| {
                format!("unknown workload `{n}` (transfer, erc20, uniswap, kvstore, cpuheavy, mixed, all)")
            })
        })
        .collect()
}

/// One engine's timings: wall seconds and CPU seconds per run.
#[derive(Default)]
struct Timings {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Timings {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (t, c) = (Instant::now(), cpu_seconds());
        let out = f();
        self.wall.push(t.elapsed().as_secs_f64());
        self.cpu.push(cpu_seconds() - c);
        out
    }
}

/// Everything measured for one (workload, conflict) block.
struct Row {
    label: String,
    txs: usize,
    gas: u64,
    serial: Timings,
    leader: Timings,
    validator: Timings,
    verdict: ScheduleVerdict,
    leader_stats: ParallelOutcome,
    bounds: Vec<(usize, f64)>,
    critical_path_txs: u32,
    static_precision: f64,
    static_recall: f64,
    static_safe: bool,
    /// Median of the machine probe taken before each repeat.
    machine_parallelism: f64,
}

fn static_infos(prepared: &Prepared) -> Vec<StaticTxInfo> {
    use alloy_consensus::Transaction;
    prepared
        .txs
        .iter()
        .map(|t| {
            let access_list =
                t.tx.access_list()
                    .map(|l| l.iter().map(|i| (i.address, i.storage_keys.clone())).collect())
                    .unwrap_or_default();
            StaticTxInfo::new(t.sender, t.tx.to().to().copied(), access_list, t.tx.input())
        })
        .collect()
}

fn measure(prepared: &Prepared, label: String, args: &ExecArgs) -> anyhow::Result<Row> {
    let config = ParallelConfig {
        threads: args.threads,
        min_txs_parallel: args.min_txs_parallel,
        sequential_bound_percent: args.sequential_bound_percent,
    };
    let serial_once: BlockOutcome =
        execute_block(&prepared.state, &prepared.env, &prepared.txs).context("serial execution")?;
    let leader_once = execute_leader(&prepared.state, &prepared.env, &prepared.txs, &config)
        .context("leader execution")?;
    ensure!(leader_once.outcome == serial_once, "{label}: leader outcome differs from serial");
    ensure!(leader_once.rejected.is_empty(), "{label}: workload transactions were rejected");
    let block_schedule = schedule_for(&leader_once, &prepared.txs, &prepared.env);
    let validator_once =
        execute_scheduled(&prepared.state, &prepared.env, &prepared.txs, &block_schedule, &config)
            .context("validator execution")?;
    ensure!(
        validator_once.outcome == serial_once,
        "{label}: validator outcome differs from serial"
    );
    let verdict = validator_once.verdict.clone();
    let (mut serial, mut leader, mut validator) =
        (Timings::default(), Timings::default(), Timings::default());
    let mut parallelism = Vec::with_capacity(args.repeats);
    for rep in 0..args.repeats {
        parallelism.push(super::probe::parallelism(args.threads));
        let mut order = [0, 1, 2];
        order.rotate_left(rep % 3);
        for engine in order {
            match engine {
                0 => {
                    serial.time(|| execute_block(&prepared.state, &prepared.env, &prepared.txs))?;
                }
                1 => {
                    leader.time(|| {
                        execute_leader(&prepared.state, &prepared.env, &prepared.txs, &config)
                    })?;
                }
                _ => {
                    validator.time(|| {
                        execute_scheduled(
                            &prepared.state,
                            &prepared.env,
                            &prepared.txs,
                            &block_schedule,
                            &config,
                        )
                    })?;
                }
            }
        }
    }
    // The structure validators follow: the beneficiary's fees and lazy
    // value credits do not order transactions.
    let schedule = block_graph(&prepared.txs, &serial_once.rw_sets, &prepared.env);
    let weights: Vec<u64> = serial_once.receipts.iter().map(|r| r.gas_used).collect();
    let analysis = analyse_graph(&schedule, Some(&weights));
    let agreed = agreement(&predict(&static_infos(prepared)), &schedule);
    Ok(Row {
        label,
        txs: prepared.txs.len(),
        gas: serial_once.gas_used,
        serial,
        leader,
        validator,
        verdict,
        leader_stats: leader_once,
        bounds: analysis.speedups.iter().map(|s| (s.cores, s.simulated)).collect(),
        critical_path_txs: analysis.critical_path_txs,
        static_precision: agreed.precision(),
        static_recall: agreed.recall(),
        static_safe: agreed.is_safe(),
        machine_parallelism: median(parallelism),
    })
}

fn print_row(row: &Row) {
    let (s, l) = (median(row.serial.wall.clone()), median(row.leader.wall.clone()));
    let (sc, lc) = (median(row.serial.cpu.clone()), median(row.leader.cpu.clone()));
    let (v, vc) = (median(row.validator.wall.clone()), median(row.validator.cpu.clone()));
    let stats = &row.leader_stats.stats;
    println!(
        "{:<24} {:>9.0} {:>8.1} | {:>9.0} {:>7.2}x {:>6.2} {:>6} {:>6} {:>10} | {:>5} {}",
        row.label,
        row.txs as f64 / s,
        row.gas as f64 / s / 1e6,
        row.txs as f64 / l,
        s / l,
        lc / sc,
        stats.re_executions,
        stats.aborts,
        stats
            .fallback
            .as_ref()
            .map_or("-".to_string(), |f| format!("{f:?}").chars().take(10).collect()),
        row.critical_path_txs,
        row.bounds.iter().map(|(c, b)| format!("{c}:{b:.1}")).collect::<Vec<_>>().join(" "),
    );
    println!(
        "{:<24} validator (schedule): {:>9.0} tx/s {:>6.2}x cpu× {:.2} verdict {:?}",
        "",
        row.txs as f64 / v,
        s / v,
        vc / sc,
        row.verdict
    );
    println!(
        "{:<24} static prediction: precision {:.2} recall {:.2} safe {}; lazy value credits {}; \
         leader overlap {}%",
        "",
        row.static_precision,
        row.static_recall,
        row.static_safe,
        stats.deferred_credits,
        stats.overlap_percent
    );
    println!(
        "{:<24} machine: {:.2}x work rate with the threads vs one (pure arithmetic; ceiling)",
        "", row.machine_parallelism
    );
}

pub(crate) fn run(args: ExecArgs) -> anyhow::Result<()> {
    ensure!(args.threads > 0 && args.txs > 0 && args.repeats > 0, "all counts must be positive");
    let kinds = parse_kinds(&args.workload)?;
    let conflicts: Vec<(String, Conflict)> = args
        .conflict
        .iter()
        .map(|c| parse_conflict(c).map(|p| (c.clone(), p)))
        .collect::<anyhow::Result<_>>()?;
    println!(
        "bench exec: {} txs per block, {} threads, median of {} runs, min_txs_parallel {}; \
         leader = Block-STM",
        args.txs, args.threads, args.repeats, args.min_txs_parallel
    );
    println!(
        "{:<24} {:>9} {:>8} | {:>9} {:>8} {:>6} {:>6} {:>6} {:>10} | {:>5}",
        "workload/conflict",
        "serial/s",
        "Mgas/s",
        "leader/s",
        "speedup",
        "cpu×",
        "reexec",
        "aborts",
        "fallback",
        "crit",
    );
    println!("{:>80} bound@cores (list-scheduled)", "");
    for kind in &kinds {
        for (name, conflict) in &conflicts {
            let spec = match conflict {
                Conflict::Chain => phalanx_testing_workloads::fully_dependent(*kind, args.txs),
                c => WorkloadSpec::new(*kind, args.txs).with_conflict(*c),
            };
            eprintln!("preparing {} {} ({} txs)…", kind.name(), name, args.txs);
            let prepared = prepare(&spec).with_context(|| format!("preparing {}", kind.name()))?;
            let row = measure(&prepared, format!("{}/{}", kind.name(), name), &args)?;
            print_row(&row);
        }
    }
    Ok(())
}
