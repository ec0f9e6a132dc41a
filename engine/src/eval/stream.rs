//! Streamed evaluation: `policy eval` over any number of inputs in bounded memory.
//!
//! [`super::evaluate`] takes every parsed input at once and its [`Report`] keeps each
//! input's whole text for code frames, so a run's memory grows with its size (about
//! 72 KiB per Kubernetes document; BENCHMARKS.md, "Scale"). Here the inputs are loaded
//! one at a time from a discovery [`Plan`] instead, in parallel (rayon, within the
//! budgeted pool), evaluated, and dropped: at any time only as many inputs are parsed as
//! there are workers. What stays of an input is what its report needs: findings,
//! errors, its summary, and of its text only the lines that a code frame or
//! a location of the report can show ([`frame_lines`]), the others blanked (the line
//! count is kept, so every renderer reads the same lines as from the whole text).
//!
//! Two passes:
//!
//! 1. [`scan`] loads every input once and keeps only what must be known before
//!    evaluating: the kinds present (which built-in WASM modules to compile), each
//!    input's path (`--shard`), and what the run-wide step needs ([`RunView`]: the
//!    Namespace objects, for Pod Security labels and `data.inventory`). An input it
//!    will not keep is parsed for its values only, without a source map.
//! 2. [`evaluate`] loads each of this shard's inputs again, evaluates it on the set
//!    prepared from the view ([`cluster::prepare_view`]) and keeps its part of the report.
//!
//! The report is the one [`super::evaluate`] gives for the same inputs, item for item and
//! in the same order: the parts are merged in input order, and what needs every finding
//! at once runs after the last input, as before — the combined packages ([`combine`],
//! over every document's value, kept for them without text or source map, and only the
//! part they read while they are the built-in ones ([`slim`]), which are then computed
//! in Rust (`eval::native`); each result is then located in its input, read again), then
//! the inline suppressions and peer ignores (found while the input was loaded,
//! [`suppress::scans`]). [`fits`] says which sets need no more than this (not a rule that
//! reads more of `data.inventory` than its Namespaces, not `--trace`); for the others the
//! caller loads everything and runs [`super::evaluate`].
//!
//! One large input is streamed too: a YAML stream past [`Batching::min`] bytes (one
//! `helm template` output on stdin, a cluster dump) is read in batches of documents
//! ([`Batches`]) in both passes, each batch evaluated and dropped before the next
//! ([`Context::part_batched`]; the next one is parsed meanwhile), its kept text built
//! batch by batch. The combined packages locate their results in it batch by batch, and
//! [`Streamed::restore_frames`] reads it again as text only for the lines they point
//! at. The scan reads it in batches first, and only an input whose batches all read
//! (UTF-8 throughout) without a syntax error, with a document, is evaluated so; any
//! other is loaded whole (the recovery after a syntax error reads the documents around
//! it one by one, which can differ from the stream's reading near `%` lines).
//!
//! Every input is accounted for as before: a skipped or failed input is a
//! [`FileReport`] like any other, and its summary and errors are kept. An input is read
//! twice (except those of the first MiB of text, and the input of a run of one, kept from
//! the first pass); a file changed between the two reads is evaluated as read the second
//! time.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;

use super::cluster::{self, RunView};
use super::{
    combine, evaluate_document_outcome, peer_ignore, slim, suppress, DocumentOutcome, EvalOptions,
    PolicySet, Worker,
};
use crate::diagnostics::{
    ErrorRecord, Finding, InputStatus, InputSummary, PackageCheck, PrintLine, Report,
    RuleException, SuppressionSource,
};
use crate::inputs::batch::{Batches, Batching};
use crate::inputs::discover::Plan;
use crate::inputs::yaml::has_bare_cr;
use crate::inputs::{Document, DocumentKind, FileReport};
use crate::rules::RuleMeta;
use crate::source::{Position, Span};

/// The inputs the first pass reads are kept for evaluation while their texts total at
/// most this many bytes, so that a small run is read and parsed once; the inputs beyond
/// are read again when they are evaluated. (Parsed, a Kubernetes document takes about
/// fifteen times its text: this keeps at most some 16 MiB.)
const KEEP_BYTES: usize = 1 << 20;

/// What the first pass ([`scan`]) keeps of a run.
#[derive(Debug, Default)]
pub struct Scan {
    /// Each input's path as reported, in plan order.
    pub paths: Vec<Arc<str>>,
    /// The document kinds present, in order of first appearance.
    pub kinds: Vec<DocumentKind>,
    /// What the run-wide step needs.
    pub view: RunView,
    /// The inputs kept loaded ([`KEEP_BYTES`], or the only input), by plan index; taken
    /// by evaluation.
    loaded: Mutex<Vec<Option<FileReport>>>,
    /// The size of the inputs' texts together ([`text_size`]).
    bytes: usize,
    /// How large YAML streams are read ([`Batches`]); none: every input whole.
    batching: Option<Batching>,
    /// Which inputs, by plan index, were read in batches, and are evaluated so.
    batched: Vec<bool>,
    /// What the built-in cross-document rules read of every document ([`slim::document`]),
    /// by plan index, when the scan was asked to keep it ([`scan_with`]'s `pack`): then
    /// they are evaluated before the second pass, and each input's part of the report is
    /// whole when it is evaluated ([`evaluate_streaming`]). Taken by evaluation.
    packed: Mutex<Option<Vec<Packed>>>,
}

impl Scan {
    /// The inputs' texts total at most [`KEEP_BYTES`]: a small run, whose time is mostly
    /// start-up.
    pub fn small(&self) -> bool {
        self.bytes <= KEEP_BYTES
    }

    /// Input `i` of `plan` in batches, when the scan read it so (and it still is a large
    /// YAML stream).
    fn batches(&self, plan: &Plan, i: usize) -> Option<Batches> {
        batches_of(plan, i, self.batching, &self.batched)
    }

    /// Calls `f` with the documents of input `i` of `plan`, loaded again: a batch at a
    /// time for an input the scan read in batches, else all at once. The errors of a
    /// batched input are left out (they are its part's).
    fn documents(&self, plan: &Plan, i: usize, mut f: impl FnMut(Vec<Document>)) {
        match self.batches(plan, i) {
            Some(batches) => batches.flatten().for_each(|b| f(b.documents)),
            None => f(plan.load(i).documents),
        }
    }

    /// Whether the scan kept what the built-in cross-document rules read ([`scan_with`]'s
    /// `pack`), and it was not taken yet.
    pub fn has_packs(&self) -> bool {
        (self.packed.lock().unwrap_or_else(PoisonError::into_inner)).is_some()
    }

    /// What the scan kept for the built-in cross-document rules, by plan index (once).
    fn take_packs(&self) -> Option<Vec<Packed>> {
        (self.packed.lock().unwrap_or_else(PoisonError::into_inner)).take()
    }

    /// Input `i` of `plan`: the one the scan kept, else loaded again.
    fn take(&self, plan: &Plan, i: usize) -> FileReport {
        let kept = self
            .loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(i)
            .and_then(Option::take);
        kept.unwrap_or_else(|| plan.load(i))
    }
}

/// The size of an input's text (the largest of its documents' texts, for an input whose
/// documents come from several blobs).
fn text_size(f: &FileReport) -> usize {
    let docs = f.documents.iter().map(|d| d.source.len()).max();
    docs.unwrap_or(0)
        .max(f.source.as_ref().map_or(0, |s| s.len()))
}

/// Input `i` of `plan` in batches, when `batched` (by plan index, from the scan) says it
/// was read so with `batching`, and it still is a large YAML stream.
fn batches_of(
    plan: &Plan,
    i: usize,
    batching: Option<Batching>,
    batched: &[bool],
) -> Option<Batches> {
    let batching = batching.filter(|_| batched.get(i) == Some(&true))?;
    plan.batches(i, batching, false)
}

/// Adds what the first pass keeps of `doc`: its kind and its part of the run view.
fn note(doc: &Document, kinds: &mut Vec<DocumentKind>, view: &mut RunView) {
    if !kinds.contains(&doc.kind) {
        kinds.push(doc.kind);
    }
    view.add(doc);
}

/// The first pass: loads every input of `plan` (in parallel, on `threads` workers, 0 =
/// rayon's default) and keeps only a [`Scan`] of it. A large YAML stream is read in
/// batches ([`Batching::default`], see [`scan_with`]).
pub fn scan(plan: &Plan, threads: usize, pack: bool) -> Scan {
    scan_with(plan, threads, Some(Batching::default()), pack)
}

/// [`scan`], reading large YAML streams in batches as `batching` says (none: every
/// input whole). An input is evaluated in batches when every batch of it could be read
/// here without an error and it has a document: else it is loaded whole, as any other,
/// so that an error that fails the whole file (invalid UTF-8 further down) fails it as
/// before, and a syntax error is recovered from as in the whole text.
///
/// `pack`: keep what the built-in cross-document rules read of every document
/// ([`slim::document`], some bytes of a Kubernetes object, `null` of anything else), so
/// that they can be evaluated before the second pass (when the set's combined packages
/// are those, [`slim::covers`]). Worth it when the built-in set is on.
pub fn scan_with(plan: &Plan, threads: usize, batching: Option<Batching>, pack: bool) -> Scan {
    let used = std::sync::atomic::AtomicUsize::new(0);
    // A run of one input keeps it whatever its size: its evaluation would parse it again,
    // whole, to the same peak (one multi-document stream on stdin, say).
    let single = plan.len() == 1;
    // Whether an input may be kept is known before it is read when its size is (files,
    // stdin); one that will not be is read for its values only, without the source map
    // its evaluation builds when it reads the input again (BENCHMARKS.md, "a first pass
    // without source maps").
    let predicted = std::sync::atomic::AtomicU64::new(0);
    let one = |i: usize| {
        if let Some(batches) = batching.and_then(|b| plan.batches(i, b, true)) {
            let path = Arc::clone(batches.path());
            let (mut kinds, mut view) = (Vec::new(), RunView::default());
            let mut packed = Packed::default();
            let (mut size, mut documents, mut clean) = (0, 0, true);
            // Only white space (a YAML parser reads a vertical tab as text): the whole
            // load calls it an empty file.
            let mut blank = true;
            for batch in batches {
                // Read whole instead: a syntax error (the recovery after it reads the
                // documents around it one by one, and where that differs from the
                // stream's own reading depends on the whole text), and a bare
                // carriage return (a line break to YAML, not to the cuts).
                let batch = match batch {
                    Ok(b) if b.errors.is_empty() && !has_bare_cr(&b.source) => b,
                    _ => {
                        clean = false;
                        break;
                    }
                };
                size += batch.source.len();
                documents += batch.documents.len();
                blank &= batch.source.trim().is_empty();
                for doc in &batch.documents {
                    note(doc, &mut kinds, &mut view);
                }
                if pack {
                    packed.extend(batch.documents, true);
                }
            }
            if clean && documents > 0 && !blank {
                used.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
                packed.json.shrink_to_fit();
                return (path, kinds, view, None, true, packed);
            }
        }
        let may_keep = single
            || plan.size_hint(i).is_none_or(|n| {
                let before = predicted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                before.saturating_add(n) <= KEEP_BYTES as u64
            });
        let f = if may_keep {
            plan.load(i)
        } else {
            plan.load_values(i)
        };
        let size = text_size(&f);
        let total = used
            .fetch_add(size, std::sync::atomic::Ordering::Relaxed)
            .saturating_add(size);
        let keep = may_keep && (single || total <= KEEP_BYTES);
        let mut kinds: Vec<DocumentKind> = Vec::new();
        let mut view = RunView::default();
        for doc in &f.documents {
            note(doc, &mut kinds, &mut view);
        }
        let path = Arc::clone(&f.path);
        let (f, packed) = match (pack, keep) {
            (false, _) => (keep.then_some(f), Packed::default()),
            (true, true) => {
                let docs = f.documents.iter().map(|d| header(d, d.value.clone()));
                let packed = Packed::new(docs, true);
                (Some(f), packed)
            }
            (true, false) => (None, Packed::new(f.documents, true)),
        };
        (path, kinds, view, f, false, packed)
    };
    let run = || (0..plan.len()).into_par_iter().map(one).collect::<Vec<_>>();
    let parts = crate::runtimes::rego::budget::install(threads, run);
    let mut scan = Scan {
        bytes: used.into_inner(),
        batching,
        ..Scan::default()
    };
    let loaded = scan
        .loaded
        .get_mut()
        .unwrap_or_else(PoisonError::into_inner);
    let mut packs = Vec::with_capacity(if pack { parts.len() } else { 0 });
    for (path, kinds, view, kept, batched, packed) in parts {
        scan.paths.push(path);
        loaded.push(kept);
        scan.batched.push(batched);
        if pack {
            packs.push(packed);
        }
        for k in kinds {
            if !scan.kinds.contains(&k) {
                scan.kinds.push(k);
            }
        }
        scan.view.extend(view);
    }
    if pack {
        *scan
            .packed
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = Some(packs);
    }
    scan
}

/// Whether a run of `set` with `opts` can be streamed with the same report as
/// [`super::evaluate`]: no rule reading more of `data.inventory` than its Namespaces
/// (the inventory would need every Kubernetes object), no `--trace`.
pub fn fits(set: &PolicySet, opts: &EvalOptions) -> bool {
    set.inventory_namespaces_only && !opts.trace
}

/// A streamed run's report, and what [`Streamed::restore_frames`] needs to give back the
/// lines of an input that a later step points at.
#[derive(Debug)]
pub struct Streamed {
    /// The report, as [`super::evaluate`] gives it (with the texts trimmed to the lines
    /// its locations show).
    pub report: Report,
    /// For each text in [`Report::sources`] (and each left out because nothing pointed
    /// into it): the input it came from, and the lines kept.
    trimmed: BTreeMap<String, (usize, Vec<u32>)>,
    /// How the scan read large inputs, and which (by plan index) it read in batches.
    batching: Option<Batching>,
    batched: Vec<bool>,
}

/// Receives each input's part of the report, finished, as [`evaluate_streaming`] goes.
/// [`ControlFlow::Break`] says nobody reads the parts any more (the output was closed,
/// as by `policy eval … | head`): the inputs not started yet are then not evaluated.
pub type Sink<'a> = dyn FnMut(Report) -> ControlFlow<()> + Send + 'a;

/// A step applied to each finished part of a report before it is handed out, and to the
/// rest at the end (the configuration's, [`crate::config::apply`]).
pub type Finish<'a> = dyn Fn(&mut Report) + Sync + 'a;

/// Evaluates this shard's inputs of `plan` one at a time (see the module documentation)
/// on `set` prepared with `scan`'s view. `keep_checks`: keep [`Report::checks`] (only
/// the conftest, TAP and table formats read them; they grow with documents times packages).
pub fn evaluate(
    set: &PolicySet,
    plan: &Plan,
    scan: &Scan,
    opts: &EvalOptions,
    keep_checks: bool,
) -> Streamed {
    evaluate_with(set, plan, scan, opts, keep_checks, None)
}

/// Whether [`evaluate_streaming`] can hand out each input's part of the report as soon
/// as the input is evaluated: no combined package of `set` runs on the scan's kinds, or
/// those that do are the built-in ones ([`slim::covers`]) and the scan kept what they
/// read (its `pack`), so that they are evaluated before the inputs are.
pub fn streams(set: &PolicySet, scan: &Scan) -> bool {
    !needs_values(set, &scan.kinds) || (slim::covers(set) && scan.has_packs())
}

/// [`evaluate`] that hands out each input's part of the report to `sink` as it is
/// finished, rather than keeping it: its findings, errors, suppressions and warnings,
/// with its input's summary and its text trimmed to the lines they show, after its
/// suppressions and `finish` (the configuration) are applied and sorted, as
/// [`Report::sort`] orders them. Parts come in the order of their inputs' paths
/// (bytewise, the order in which a whole report lists its findings), whatever order
/// the workers finish them in: a part finished early waits for those before it. Once
/// `sink` breaks, no input is started and no part is handed out any more.
///
/// Returns the rest of the report (the policy set's errors and warnings, the run-wide
/// step's and the cross-document rules' errors, the catalog), `finish` applied. The
/// parts and the rest together hold what [`evaluate`] would report, when [`streams`]
/// says so; else every part is handed out at the end (the caller should then use
/// [`evaluate`]). [`Report::checks`] are not kept.
pub fn evaluate_streaming(
    set: &PolicySet,
    plan: &Plan,
    scan: &Scan,
    opts: &EvalOptions,
    finish: &Finish<'_>,
    sink: &mut Sink<'_>,
) -> Report {
    let emit = Emit {
        state: Mutex::new(EmitState {
            next: 0,
            pending: BTreeMap::new(),
            sink,
            doc_paths: std::collections::HashSet::new(),
        }),
        finish,
        stopped: AtomicBool::new(false),
        shard: opts.shard.as_ref().map(|s| (s.shard.index, s.shard.count)),
    };
    let mut rest = evaluate_with(set, plan, scan, opts, false, Some(&emit)).report;
    finish(&mut rest);
    rest
}

fn evaluate_with(
    set: &PolicySet,
    plan: &Plan,
    scan: &Scan,
    opts: &EvalOptions,
    keep_checks: bool,
    emit: Option<&Emit<'_, '_>>,
) -> Streamed {
    let own: Vec<bool> = scan
        .paths
        .iter()
        .map(|p| {
            opts.shard
                .as_ref()
                .is_none_or(|s| s.shard.contains(p, &s.root))
        })
        .collect();
    let (prepared, cluster_errors) = cluster::prepare_view(set, &scan.view);
    let set: &PolicySet = &prepared;
    let values = needs_values(set, &scan.kinds);
    let slim = slim::covers(set);
    // The built-in cross-document rules first, on what the scan kept of every input:
    // each input's part is then whole when the input is evaluated.
    // (Taken whatever happens: unused, they would be kept to the end for nothing.)
    let packs = scan.take_packs();
    let early = (values && slim)
        .then_some(packs)
        .flatten()
        .map(|packs| Early::evaluate(set, packs));
    let ctx = Context {
        set,
        rules: set.rules(),
        workers: Mutex::new(Vec::new()),
        peer_ignores: !opts.no_peer_ignores,
        keep_checks,
        values: values && early.is_none(),
        slim,
        early: early.as_ref(),
    };
    let mine: Vec<usize> = (0..plan.len()).filter(|i| own[*i]).collect();
    let others: Vec<usize> = (0..plan.len()).filter(|i| !own[*i]).collect();
    // Inputs of other shards are not evaluated: what the scan kept of them goes now.
    for (kept, own) in (scan.loaded.lock().unwrap_or_else(PoisonError::into_inner))
        .iter_mut()
        .zip(&own)
    {
        if !own {
            *kept = None;
        }
    }
    let input = |i: usize| match scan.batches(plan, i) {
        Some(batches) => ctx.part_batched(i, batches),
        None => ctx.part(i, scan.take(plan, i)),
    };
    let run = || {
        let parts = match emit {
            None => mine.par_iter().map(|&i| input(i)).collect::<Vec<_>>(),
            Some(emit) => {
                // Started one at a time in the order they are handed out (`par_bridge`
                // gives a worker the next when it is free), so that they finish nearly in
                // that order: what waits is the parts finished while an earlier one is
                // still under way. No worker ever waits for its turn: one that did could
                // hold, below it on its stack, the part everything waits for.
                let mut order = mine.clone();
                order.sort_by(|a, b| scan.paths[*a].cmp(&scan.paths[*b]));
                (order.iter().enumerate().par_bridge()).for_each(|(rank, &i)| {
                    if !emit.stopped.load(Ordering::Relaxed) {
                        emit.push(&ctx, rank, input(i));
                    }
                });
                Vec::new()
            }
        };
        // Combined packages read the other shards' documents too: their values only.
        let context: Vec<Packed> = if ctx.values {
            others
                .par_iter()
                .map(|&i| {
                    let mut packed = Packed::default();
                    scan.documents(plan, i, |docs| packed.extend(docs, ctx.slim));
                    packed.json.shrink_to_fit();
                    packed
                })
                .collect()
        } else {
            Vec::new()
        };
        (parts, context)
    };
    // Large stacks for deep Rego call chains (see `runtimes::rego::budget`).
    let (mut parts, context) = crate::runtimes::rego::budget::install(opts.threads, run);
    let Context {
        rules,
        values,
        slim,
        peer_ignores,
        ..
    } = ctx;
    let mut report = Report {
        errors: set.errors.clone(),
        warnings: set.warnings.clone(),
        rules,
        disabled: set.disabled.clone(),
        unloaded: set.unloaded.clone(),
        ..Report::default()
    };
    for part in &mut parts {
        report.findings.append(&mut part.findings);
        report.errors.append(&mut part.errors);
        report.exceptions.append(&mut part.exceptions);
        report.checks.append(&mut part.checks);
        report.prints.append(&mut part.prints);
    }
    if let Some(early) = early {
        let mine = doc_paths(emit, &parts);
        report.errors.extend(
            (early.errors.into_iter())
                .filter(|e| e.input.as_deref().is_none_or(|p| mine.contains(p))),
        );
        if keep_checks {
            report.checks.extend(early.checks);
        }
    } else if values {
        let combined = combined(set, plan, scan, &own, &mut parts, context, slim);
        let mine = doc_paths(emit, &parts);
        report
            .findings
            .extend((combined.findings.into_iter()).filter(|f| mine.contains(&*f.location.file)));
        report.errors.extend(
            (combined.errors.into_iter())
                .filter(|e| e.input.as_deref().is_none_or(|p| mine.contains(p))),
        );
        if keep_checks {
            report.checks.extend(combined.checks);
        }
    }
    let mut scans: Vec<(Arc<str>, suppress::Scan)> = Vec::new();
    let mut peers: Vec<(Arc<str>, Vec<peer_ignore::PeerIgnore>)> = Vec::new();
    for part in &mut parts {
        scans.append(&mut part.scans);
        peers.append(&mut part.peers);
    }
    scans.sort_by(|a, b| a.0.cmp(&b.0));
    peers.sort_by(|a, b| a.0.cmp(&b.0));
    suppress::apply_scans(&mut report, &scans);
    if peer_ignores {
        peer_ignore::apply_scans(&mut report, &peers);
    }
    drop((scans, peers));
    let mut trimmed = BTreeMap::new();
    for part in parts {
        report.errors.extend(part.file_errors);
        report.owners.extend(part.owners);
        for (path, text, kept) in part.sources {
            if trimmed.contains_key(&path) {
                continue;
            }
            if let Some(text) = text {
                report.sources.insert(path.clone(), text);
            }
            trimmed.insert(path, (part.index, kept));
        }
        report.inputs.push(part.input);
    }
    // The run-wide step's errors sorted among the others, as a streamed report writes
    // them (and as docs/output-formats.md says errors are).
    report.errors.extend(cluster_errors);
    report.sort();
    if let Some(s) = &opts.shard {
        report.shard = Some(crate::diagnostics::RunShard {
            index: s.shard.index,
            count: s.shard.count,
            // Handed out, each part has its input's.
            positions: if emit.is_some() { Vec::new() } else { mine },
        });
    }
    Streamed {
        report,
        trimmed,
        batching: scan.batching,
        batched: scan.batched.clone(),
    }
}

/// The paths of this shard's documents (the cross-document rules' results and errors in
/// the other shards' are left out): those of `parts`, or of the parts `emit` handed out.
fn doc_paths(emit: Option<&Emit<'_, '_>>, parts: &[Part]) -> std::collections::HashSet<Arc<str>> {
    match emit {
        Some(emit) => std::mem::take(&mut emit.lock().doc_paths),
        None => (parts.iter())
            .flat_map(|p| p.doc_paths.iter().cloned())
            .collect(),
    }
}

/// Hands out finished parts in order ([`evaluate_streaming`]).
struct Emit<'s, 'f> {
    state: Mutex<EmitState<'s>>,
    finish: &'f Finish<'f>,
    /// The sink broke: the parts are not read any more.
    stopped: AtomicBool,
    /// `--shard K/N`: each part says which, with its input's place in the run.
    shard: Option<(u32, u32)>,
}

struct EmitState<'s> {
    /// The rank of the next part to hand out.
    next: usize,
    /// Parts finished before one ranked before them, by rank.
    pending: BTreeMap<usize, Report>,
    sink: &'s mut Sink<'s>,
    /// The paths of the documents of the parts handed out.
    doc_paths: std::collections::HashSet<Arc<str>>,
}

impl<'s> Emit<'s, '_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, EmitState<'s>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Finishes `part`, the `rank`th to hand out, and hands out every part it was the
    /// last one missing for.
    fn push(&self, ctx: &Context<'_>, rank: usize, mut part: Part) {
        let doc_paths = std::mem::take(&mut part.doc_paths);
        let index = part.index;
        let mut report = ctx.finished(part, self.finish);
        report.shard = (self.shard).map(|(index_k, count)| crate::diagnostics::RunShard {
            index: index_k,
            count,
            positions: vec![index],
        });
        let mut state = self.lock();
        if self.stopped.load(Ordering::Relaxed) {
            return;
        }
        state.doc_paths.extend(doc_paths);
        state.pending.insert(rank, report);
        loop {
            let next = state.next;
            let Some(report) = state.pending.remove(&next) else {
                break;
            };
            state.next += 1;
            if (state.sink)(report).is_break() {
                self.stopped.store(true, Ordering::Relaxed);
                state.pending.clear();
                break;
            }
        }
    }
}

/// The built-in cross-document rules' results, evaluated before the inputs are (on what
/// the scan kept, [`Scan::take_packs`]), for each input to locate its own while it is
/// loaded.
struct Early {
    /// By plan index: the results in that input's documents, each with the header of
    /// its document ([`header`]).
    results: Mutex<Vec<Vec<(Document, crate::runtimes::RawResult)>>>,
    errors: Vec<ErrorRecord>,
    checks: Vec<PackageCheck>,
}

impl Early {
    fn evaluate(set: &PolicySet, packs: Vec<Packed>) -> Early {
        let (docs, input_of, raw) = evaluate_packs(set, &packs, true);
        let mut results: Vec<Vec<_>> = packs.iter().map(|_| Vec::new()).collect();
        for (d, r) in raw.results {
            results[input_of[d]].push((header(docs[d], serde_json::Value::Null), r));
        }
        Early {
            results: Mutex::new(results),
            errors: raw.errors,
            checks: raw.checks,
        }
    }

    /// Input `i`'s results (once).
    fn take(&self, i: usize) -> Vec<(Document, crate::runtimes::RawResult)> {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        results.get_mut(i).map(std::mem::take).unwrap_or_default()
    }
}

/// Whether a combined package of `set` runs on a run with documents of `kinds`: then
/// every document's value is kept for it ([`combine`]).
fn needs_values(set: &PolicySet, kinds: &[DocumentKind]) -> bool {
    set.rego.packages.iter().any(|p| {
        p.combined
            && DocumentKind::ALL
                .iter()
                .any(|k| p.applies_to(*k) && kinds.contains(k))
    })
}

/// The documents of one input kept for the combined packages: where each is (its text,
/// source map and value left out), and its value, or with `slim` only what the built-in
/// ones read ([`slim::document`]), packed as compact JSON, all of an input's in one
/// buffer. Kept until the last input is evaluated, the parsed values were most of a
/// large run's memory (BENCHMARKS.md, "packed values"), and then two allocations per
/// document, interleaved with freed parse trees, still some 1 KiB each.
#[derive(Default)]
pub(crate) struct Packed {
    docs: Vec<Document>,
    json: Vec<u8>,
    /// Where each document's JSON ends in `json`.
    ends: Vec<usize>,
}

/// What is kept of `doc` to locate a result in it later: where it is, with `value`
/// (its text and source map left out).
fn header(doc: &Document, value: serde_json::Value) -> Document {
    Document {
        kind: doc.kind,
        path: Arc::clone(&doc.path),
        index: doc.index,
        value,
        source_map: Default::default(),
        source: Arc::clone(&NO_TEXT),
        first_line: 1,
        span: doc.span,
    }
}

/// The text of a kept document: none (one shared allocation).
static NO_TEXT: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("docs", &self.docs.len())
            .field("bytes", &self.json.len())
            .finish()
    }
}

impl Packed {
    fn new(docs: impl IntoIterator<Item = Document>, slim: bool) -> Packed {
        let mut out = Packed::default();
        out.extend(docs, slim);
        out.json.shrink_to_fit();
        out
    }

    /// Adds `docs` (the next batch of the same input).
    fn extend(&mut self, docs: impl IntoIterator<Item = Document>, slim: bool) {
        let out = self;
        let docs = docs.into_iter();
        out.docs.reserve(docs.size_hint().0);
        out.ends.reserve(docs.size_hint().0);
        for mut doc in docs {
            let value = std::mem::take(&mut doc.value);
            let value = if slim { slim::document(value) } else { value };
            // A `serde_json::Value` always serialises (string keys, finite numbers).
            let start = out.json.len();
            if serde_json::to_writer(&mut out.json, &value).is_err() {
                out.json.truncate(start);
                out.json.extend_from_slice(b"null");
            }
            out.ends.push(out.json.len());
            out.docs.push(header(&doc, serde_json::Value::Null));
        }
    }

    /// Each document with its JSON.
    fn iter(&self) -> impl Iterator<Item = (&Document, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        (self.docs.iter())
            .zip(starts.zip(&self.ends))
            .map(|(d, (start, end))| (d, &self.json[start..*end]))
    }
}

/// Runs the combined packages over the documents kept of every input (`inputs`, by plan
/// index; `slim`: the values are [`slim::document`]'s projections): each document
/// evaluated, with the index of its input, and the results, which point into those.
fn evaluate_packs<'p>(
    set: &PolicySet,
    inputs: &'p [Packed],
    slim: bool,
) -> (Vec<&'p Document>, Vec<usize>, combine::Unlocated) {
    let mut docs: Vec<&Document> = Vec::new();
    let mut packed: Vec<&[u8]> = Vec::new();
    let mut input_of: Vec<usize> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        for (doc, json) in input.iter() {
            docs.push(doc);
            packed.push(json);
            input_of.push(i);
        }
    }
    let raw = combine::evaluate_packed(set, &docs, &packed, slim);
    (docs, input_of, raw)
}

/// The document of `docs` that `at` (kept by the first pass, [`header`]) is: the same
/// path and index; none when the input changed since.
fn same_document<'d>(docs: &'d [Document], at: &Document) -> Option<&'d Document> {
    docs.iter()
        .find(|d| d.index == at.index && d.path == at.path)
}

/// Runs the combined packages over every document of the run (this shard's, kept by
/// their parts, and `context`, the other shards', in plan order), and locates each
/// result in its document, loaded again from `plan`. `slim`: the kept values are
/// [`slim::document`]'s projections.
fn combined(
    set: &PolicySet,
    plan: &Plan,
    scan: &Scan,
    own: &[bool],
    parts: &mut [Part],
    context: Vec<Packed>,
    slim: bool,
) -> combine::Combined {
    let mut by_input: Vec<Packed> = Vec::with_capacity(own.len());
    let mut parts_iter = parts.iter_mut();
    let mut context = context.into_iter();
    for is_own in own {
        let docs = if *is_own {
            parts_iter.next().map(|p| std::mem::take(&mut p.values))
        } else {
            context.next()
        };
        by_input.push(docs.unwrap_or_default());
    }
    let (docs, input_of, raw) = evaluate_packs(set, &by_input, slim);
    let mut located: Vec<Option<Finding>> = raw.results.iter().map(|_| None).collect();
    let mut wanted: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (n, (i, _)) in raw.results.iter().enumerate() {
        wanted.entry(input_of[*i]).or_default().push(n);
    }
    let mut results: Vec<Option<(usize, crate::runtimes::RawResult)>> =
        raw.results.into_iter().map(Some).collect();
    for (input, ns) in wanted {
        scan.documents(plan, input, |batch| {
            for &n in &ns {
                let Some((i, _)) = &results[n] else {
                    continue;
                };
                let at = docs[*i];
                if let Some(doc) = same_document(&batch, at) {
                    if let Some((_, r)) = results[n].take() {
                        located[n] = Some(super::resolve(r, doc, None));
                    }
                }
            }
        });
        // A document gone since (the input changed): located without its source map.
        for n in ns {
            if let Some((i, r)) = results[n].take() {
                located[n] = Some(super::resolve(r, docs[i], None));
            }
        }
    }
    combine::Combined {
        findings: located.into_iter().flatten().collect(),
        errors: raw.errors,
        checks: raw.checks,
    }
}

impl Streamed {
    /// Gives back the whole text of every input that a location of the report points
    /// into beyond the lines kept (a step after evaluation, such as the configuration's,
    /// may add one), loading the input again from `plan`. A no-op when the report has
    /// only what evaluation put in it.
    ///
    /// An input read in batches is read so again, as text only, and only the lines now
    /// wanted are added to its kept text: the combined packages' findings (located
    /// after every input was evaluated) point into the stream as well.
    pub fn restore_frames(&mut self, plan: &Plan) {
        for (index, paths) in self.missing() {
            if let Some(batches) = batches_of(plan, index, self.batching, &self.batched) {
                self.restore_batched(batches);
                continue;
            }
            let f = plan.load(index);
            for path in paths {
                if let Some(text) = full_text(&f, &path) {
                    self.report.sources.insert(path.clone(), text);
                }
                self.trimmed.remove(&path);
            }
        }
    }

    /// [`Streamed::restore_frames`] for an input read in `batches` (its one path is
    /// its documents' and its own).
    fn restore_batched(&mut self, batches: Batches) {
        let path = batches.path().to_string();
        let Some((index, kept)) = self.trimmed.get(&path) else {
            return;
        };
        let index = *index;
        let mut wanted = kept.clone();
        for (file, span) in locations(&self.report) {
            if file == path {
                wanted.extend(frame_lines(span));
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        let mut text = String::new();
        for batch in batches.text_only() {
            let Ok(batch) = batch else {
                return; // changed since: the frames stay as they are
            };
            text.push_str(&blank(&batch.source, batch.first_line, &wanted));
        }
        self.report.sources.insert(path.clone(), Arc::from(text));
        self.trimmed.insert(path, (index, wanted));
    }

    /// The texts [`Streamed::restore_frames`] gives back: by input, its paths that a
    /// location of the report points into beyond the lines kept.
    fn missing(&self) -> BTreeMap<usize, Vec<String>> {
        let mut reload: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (file, span) in locations(&self.report) {
            let Some((index, kept)) = self.trimmed.get(file) else {
                continue;
            };
            if frame_lines(span).any(|l| kept.binary_search(&l).is_err()) {
                let paths = reload.entry(*index).or_default();
                if !paths.iter().any(|p| p == file) {
                    paths.push(file.to_string());
                }
            }
        }
        reload
    }

    /// The report.
    pub fn into_report(self) -> Report {
        self.report
    }
}

/// The text a report keeps for `path` of `f`: its first document under that path, else
/// the text of a file that did not parse.
fn full_text(f: &FileReport, path: &str) -> Option<Arc<str>> {
    f.documents
        .iter()
        .find(|d| *d.path == *path)
        .map(|d| Arc::clone(&d.source))
        .or_else(|| (*f.path == *path).then(|| f.source.clone()).flatten())
}

/// Everything one input adds to the report.
struct Part {
    index: usize,
    findings: Vec<Finding>,
    errors: Vec<ErrorRecord>,
    exceptions: Vec<RuleException>,
    checks: Vec<PackageCheck>,
    prints: Vec<PrintLine>,
    /// The input's own errors (parse errors, unreadable file), added after every rule's.
    file_errors: Vec<ErrorRecord>,
    owners: Vec<(String, String)>,
    /// `(path, trimmed text, lines kept)`, first text of a path first; no text when no
    /// line is needed.
    sources: Vec<(String, Option<Arc<str>>, Vec<u32>)>,
    input: InputSummary,
    /// The paths of its documents.
    doc_paths: Vec<Arc<str>>,
    /// Its inline suppressions and peer ignores, applied once every finding is known.
    scans: Vec<(Arc<str>, suppress::Scan)>,
    peers: Vec<(Arc<str>, Vec<peer_ignore::PeerIgnore>)>,
    /// Its documents without text or source map, for the combined packages.
    values: Packed,
}

/// An input's inline suppressions, by path ([`suppress::scans`]).
type Suppressions = Vec<(Arc<str>, suppress::Scan)>;
/// An input's peer ignores, by path ([`peer_ignore::scans`]).
type PeerIgnores = Vec<(Arc<str>, Vec<peer_ignore::PeerIgnore>)>;

/// What every input's evaluation shares.
struct Context<'a> {
    set: &'a PolicySet,
    rules: Vec<Arc<RuleMeta>>,
    /// Workers not in use: one per thread at most is ever made.
    workers: Mutex<Vec<Worker>>,
    peer_ignores: bool,
    keep_checks: bool,
    /// Keep every document's value ([`needs_values`]).
    values: bool,
    /// Of those values, only what the combined packages read ([`slim::covers`]).
    slim: bool,
    /// The built-in cross-document rules' results, when evaluated before the inputs.
    early: Option<&'a Early>,
}

impl Context<'_> {
    /// Runs `f` with a free worker (made when there is none).
    fn with_worker<R>(&self, f: impl FnOnce(&mut Worker) -> R) -> R {
        let free = self
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut worker = free.unwrap_or_else(|| Worker::new(self.set));
        let out = f(&mut worker);
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(worker);
        out
    }

    /// An empty report of the run's rules, for what some documents add.
    fn report(&self) -> Report {
        Report {
            rules: self.rules.clone(),
            disabled: self.set.disabled.clone(),
            unloaded: self.set.unloaded.clone(),
            ..Report::default()
        }
    }

    /// Evaluates `docs`, in parallel (a single large stream is one input), into `r`.
    fn outcomes(&self, docs: &[Document], r: &mut Report) {
        let outcomes: Vec<DocumentOutcome> = docs
            .par_iter()
            .map(|doc| self.with_worker(|w| evaluate_document_outcome(self.set, w, doc)))
            .collect();
        for outcome in outcomes {
            outcome.add_to(r, self.keep_checks);
        }
    }

    /// The inline suppressions and peer ignores of `docs` (those of one input).
    fn scans(&self, docs: &[Document]) -> (Suppressions, PeerIgnores) {
        let docs: Vec<&Document> = docs.iter().collect();
        let peers = if self.peer_ignores {
            peer_ignore::scans(&docs)
        } else {
            Vec::new()
        };
        (suppress::scans(&docs), peers)
    }

    /// Evaluates input `index`, `f`, into its part of the report, as
    /// [`super::evaluate`] assembles it, and drops the input.
    fn part(&self, index: usize, f: FileReport) -> Part {
        let mut r = self.report();
        self.outcomes(&f.documents, &mut r);
        for (at, result) in self.early.map(|e| e.take(index)).unwrap_or_default() {
            // (Gone since the scan, when the input changed.)
            let doc = same_document(&f.documents, &at).unwrap_or(&at);
            r.findings.push(super::resolve(result, doc, None));
        }
        let (scans, peers) = self.scans(&f.documents);
        let status = if let Some(reason) = f.skipped.clone() {
            InputStatus::Skipped { reason }
        } else if f.documents.is_empty() {
            InputStatus::Failed
        } else {
            InputStatus::Evaluated {
                documents: f.documents.len(),
            }
        };
        let file_errors: Vec<ErrorRecord> =
            f.errors.iter().cloned().map(ErrorRecord::from).collect();
        let mut owners = Vec::new();
        let mut texts: Vec<(String, Arc<str>)> = Vec::new();
        for doc in &f.documents {
            if *doc.path != *f.path {
                owners.push((doc.path.to_string(), f.path.to_string()));
            }
            if !texts.iter().any(|(p, _)| **p == *doc.path) {
                texts.push((doc.path.to_string(), Arc::clone(&doc.source)));
            }
        }
        if let Some(source) = &f.source {
            if !texts.iter().any(|(p, _)| **p == *f.path) {
                texts.push((f.path.to_string(), Arc::clone(source)));
            }
        }
        let mut needed: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        let directives = scans
            .iter()
            .flat_map(|(path, scan)| scan.positions().map(move |p| (&**path, Span::point(p))));
        for (file, span) in locations(&r)
            .chain(file_errors.iter().map(error_location))
            .chain(directives)
        {
            if texts.iter().any(|(p, _)| p == file) {
                needed.entry(file).or_default().extend(frame_lines(span));
            }
        }
        let sources = texts
            .iter()
            .map(|(path, text)| {
                let mut kept = needed.remove(path.as_str()).unwrap_or_default();
                kept.sort_unstable();
                kept.dedup();
                let trimmed = (!kept.is_empty()).then(|| Arc::from(blank(text, 1, &kept)));
                (path.clone(), trimmed, kept)
            })
            .collect();
        let mut doc_paths: Vec<Arc<str>> = Vec::new();
        for doc in &f.documents {
            if !doc_paths.contains(&doc.path) {
                doc_paths.push(Arc::clone(&doc.path));
            }
        }
        let values = if self.values {
            Packed::new(f.documents, self.slim)
        } else {
            Packed::default()
        };
        Part {
            index,
            findings: r.findings,
            errors: r.errors,
            exceptions: r.exceptions,
            checks: r.checks,
            prints: r.prints,
            file_errors,
            owners,
            sources,
            input: InputSummary {
                path: f.path.to_string(),
                status,
            },
            doc_paths,
            scans,
            peers,
            values,
        }
    }
}

impl Context<'_> {
    /// `part` as a report of its own, as [`evaluate`] would report it for its input
    /// alone: its suppressions applied, its input's errors added, sorted, `finish` applied.
    fn finished(&self, part: Part, finish: &Finish<'_>) -> Report {
        let mut r = self.report();
        r.findings = part.findings;
        r.errors = part.errors;
        r.exceptions = part.exceptions;
        r.checks = part.checks;
        r.prints = part.prints;
        suppress::apply_scans(&mut r, &part.scans);
        if self.peer_ignores {
            peer_ignore::apply_scans(&mut r, &part.peers);
        }
        r.errors.extend(part.file_errors);
        r.owners.extend(part.owners);
        for (path, text, _) in part.sources {
            if let Some(text) = text {
                r.sources.entry(path).or_insert(text);
            }
        }
        r.inputs.push(part.input);
        r.sort();
        finish(&mut r);
        r
    }

    /// [`Context::part`] for an input read in `batches` (a large YAML stream): the same
    /// part, with one batch's documents parsed at a time. Its text is kept as it is
    /// read, blanked but for the lines the batch's locations show (a code frame may
    /// reach into the next batches: those lines are kept there); its suppressions are
    /// found per batch, in the file's lines, and merged.
    fn part_batched(&self, index: usize, mut batches: Batches) -> Part {
        let path = Arc::clone(batches.path());
        let mut r = self.report();
        let mut file_errors: Vec<ErrorRecord> = Vec::new();
        let mut scan: Option<suppress::Scan> = None;
        let mut peers: Vec<peer_ignore::PeerIgnore> = Vec::new();
        let mut text = String::new();
        let mut kept: Vec<u32> = Vec::new();
        // Lines wanted past the batches read so far.
        let mut carry: Vec<u32> = Vec::new();
        let mut documents = 0;
        let mut values = Packed::default();
        let mut early = self.early.map(|e| e.take(index)).unwrap_or_default();
        let mut next = batches.next();
        while let Some(item) = next.take() {
            let batch = match item {
                Ok(batch) => batch,
                Err(e) => {
                    file_errors.push(ErrorRecord::from(e));
                    break;
                }
            };
            // The next batch is read and parsed while this one is evaluated.
            let mut own = self.report();
            let (following, ()) = rayon::join(
                || batches.next(),
                || self.outcomes(&batch.documents, &mut own),
            );
            next = following;
            if !early.is_empty() {
                for (at, result) in std::mem::take(&mut early) {
                    match same_document(&batch.documents, &at) {
                        Some(doc) => own.findings.push(super::resolve(result, doc, None)),
                        None => early.push((at, result)),
                    }
                }
            }
            let (found, found_peers) = self.scans(&batch.documents);
            let errors: Vec<ErrorRecord> = (batch.errors.iter().cloned())
                .map(ErrorRecord::from)
                .collect();
            let first = batch.first_line;
            let end = first.saturating_add(batch.line_count());
            let mut needed = std::mem::take(&mut carry);
            let directives = found
                .iter()
                .flat_map(|(p, scan)| scan.positions().map(move |at| (&**p, Span::point(at))));
            for (file, span) in locations(&own)
                .chain(errors.iter().map(error_location))
                .chain(directives)
            {
                if *file == *path {
                    needed.extend(frame_lines(span));
                }
            }
            needed.sort_unstable();
            needed.dedup();
            // A line before this batch cannot be kept any more: `Streamed::restore_frames`
            // gives the text back whole if one is ever wanted.
            let (here, later): (Vec<u32>, Vec<u32>) = (needed.into_iter())
                .filter(|l| *l >= first)
                .partition(|l| *l < end);
            text.push_str(&blank(&batch.source, first, &here));
            kept.extend(here);
            carry = later;
            for (_, s) in found {
                match &mut scan {
                    Some(all) => all.merge(s),
                    None => scan = Some(s),
                }
            }
            peers.extend(found_peers.into_iter().flat_map(|(_, p)| p));
            r.findings.append(&mut own.findings);
            r.errors.append(&mut own.errors);
            r.exceptions.append(&mut own.exceptions);
            r.checks.append(&mut own.checks);
            r.prints.append(&mut own.prints);
            file_errors.extend(errors);
            documents += batch.documents.len();
            if self.values {
                values.extend(batch.documents, self.slim);
            }
        }
        kept.extend(carry);
        // Gone since the scan (the input changed): located without the text.
        for (at, result) in early {
            r.findings.push(super::resolve(result, &at, None));
        }
        values.json.shrink_to_fit();
        let status = if documents == 0 {
            InputStatus::Failed
        } else {
            InputStatus::Evaluated { documents }
        };
        let trimmed = (!kept.is_empty()).then(|| Arc::from(text));
        Part {
            index,
            findings: r.findings,
            errors: r.errors,
            exceptions: r.exceptions,
            checks: r.checks,
            prints: r.prints,
            file_errors,
            owners: Vec::new(),
            sources: vec![(path.to_string(), trimmed, kept)],
            input: InputSummary {
                path: path.to_string(),
                status,
            },
            doc_paths: if documents == 0 {
                Vec::new()
            } else {
                vec![Arc::clone(&path)]
            },
            scans: scan.map(|s| (Arc::clone(&path), s)).into_iter().collect(),
            peers: if peers.is_empty() {
                Vec::new()
            } else {
                vec![(path, peers)]
            },
            values,
        }
    }
}

/// The lines a renderer may read for a location at `span`: the code frame's (the first
/// line and up to three more of the span, `report::text`), and the line before the end
/// and the end's (where a span ending at a line start really ends, `report::Region`).
pub(crate) fn frame_lines(span: Span) -> impl Iterator<Item = u32> {
    let start = span.start.line.max(1);
    let end = span.end.line;
    (start..=start.saturating_add(3))
        .chain([end.saturating_sub(1), end].into_iter().filter(|l| *l >= 1))
}

/// A point location.
fn at(file: &str, line: u32, column: u32) -> (&str, Span) {
    (file, Span::point(Position::new(line, column)))
}

/// An error's location as a span.
fn error_location(e: &ErrorRecord) -> (&str, Span) {
    (
        e.file.as_str(),
        Span::point(Position::new(e.line, e.column)),
    )
}

/// Every location of `r` that a renderer may show a line of.
fn locations(r: &Report) -> impl Iterator<Item = (&str, Span)> {
    r.findings
        .iter()
        .map(|f| (&*f.location.file, f.location.span))
        .chain(r.suppressed.iter().flat_map(|s| {
            let inline = match &s.source {
                SuppressionSource::InSource { file, line, column } => {
                    Some(at(file, *line, *column))
                }
                SuppressionSource::Config => None,
            };
            std::iter::once((&*s.finding.location.file, s.finding.location.span)).chain(inline)
        }))
        .chain(r.errors.iter().map(error_location))
        .chain(r.warnings.iter().map(|w| at(&w.file, w.line, w.column)))
        .chain(
            r.exceptions
                .iter()
                .map(|e| (&*e.location.file, e.location.span)),
        )
}

/// `text`, whose first line is line `first` of its file, with every line not in `kept`
/// (sorted, of the file) emptied; line terminators stay, so line numbers and the line
/// count are those of `text`.
fn blank(text: &str, first: u32, kept: &[u32]) -> String {
    let mut out =
        String::with_capacity(text.bytes().filter(|b| *b == b'\n').count() + kept.len() * 80);
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let number = u32::try_from(n).unwrap_or(u32::MAX).saturating_add(first);
        if kept.binary_search(&number).is_ok() {
            out.push_str(line);
        } else if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve::{ConfigSource, Flags, Layers};
    use crate::report::{self, Format, ReportOptions, SourceLines};
    use crate::session::Session;

    const NAMESPACED: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: prod
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:latest
          securityContext:
            privileged: true
---
# policy:ignore=NOPE001 reason: names no rule
apiVersion: v1
kind: Pod
metadata:
  name: lone
  namespace: elsewhere
spec:
  containers:
    - name: app
      image: busybox
";

    /// A session rooted at `d` with the built-in set and no configuration.
    fn plain_session(d: &std::path::Path) -> Session {
        Session::from_layers(Layers {
            root: d.to_path_buf(),
            config: ConfigSource::None,
            ..Layers::default()
        })
        .expect("session")
    }

    fn write(dir: &std::path::Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).expect("write");
    }

    /// Asserts `a == b`, showing the first lines that differ (outputs are long).
    fn same(a: &[String], b: &[String], what: &str) {
        for (x, y) in a.iter().zip(b) {
            let (xs, ys): (Vec<&str>, Vec<&str>) = (x.lines().collect(), y.lines().collect());
            if let Some(n) = (0..xs.len().max(ys.len())).find(|n| xs.get(*n) != ys.get(*n)) {
                let around = |v: &[&str]| {
                    v[n.saturating_sub(8).min(v.len())..(n + 4).min(v.len())].join("\n")
                };
                panic!(
                    "{what}: line {}\n--- whole\n{}\n--- other\n{}",
                    n + 1,
                    around(&xs),
                    around(&ys)
                );
            }
        }
        assert_eq!(a.len(), b.len());
    }

    fn outputs(r: &Report, formats: &[Format]) -> Vec<String> {
        formats
            .iter()
            .map(|f| {
                let mut out = Vec::new();
                report::reporter(*f, &ReportOptions::default())
                    .write(r, &mut out)
                    .expect("write");
                String::from_utf8(out).expect("utf-8")
            })
            .collect()
    }

    /// The formats written as the run goes, in `formats`, from the parts and the rest
    /// [`Session::check_plan_streaming`] hands out, with each one's exit status.
    fn written_as_it_goes(
        session: &Session,
        set: &PolicySet,
        plan: &Plan,
        scan: &Scan,
        formats: &[Format],
    ) -> Vec<(String, crate::diagnostics::ExitStatus)> {
        let mut parts: Vec<Report> = Vec::new();
        let rest = session.check_plan_streaming(set, plan, scan, &mut |p| {
            parts.push(p);
            ControlFlow::Continue(())
        });
        formats
            .iter()
            .map(|f| {
                let opts = ReportOptions::default();
                let format = report::stream::streaming(*f, &opts).expect("streams");
                let mut writer = report::stream::StreamWriter::new(format, opts);
                let mut out = Vec::new();
                for part in &parts {
                    writer.part(part.clone(), &mut out);
                }
                let status = writer.finish(rest.clone(), &mut out).expect("write");
                (String::from_utf8(out).expect("utf-8"), status)
            })
            .collect()
    }

    /// The streamed run and the whole one give byte-identical reports in every format
    /// that reads code frames, under `--shard` too, on inputs with Pod Security labels
    /// (the run-wide step), inline and peer suppressions, an unknown suppressed rule, a
    /// parse error and a skipped file.
    #[test]
    fn a_streamed_run_reports_what_a_whole_run_reports() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(
            d,
            "Dockerfile",
            "FROM alpine:latest\n# hadolint ignore=DL3002\nUSER root\nRUN apt-get install curl\n",
        );
        write(d, "cluster.yaml", NAMESPACED);
        // The cross-document rules K8S103 and K8S104 fire too (K8S101 and K8S102 on
        // `cluster.yaml`), on the projected values ([`slim`]).
        write(
            d,
            "ports.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: prod}\nspec:\n  selector: {app: wbe}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: prod, labels: {app: web}}\nspec:\n  containers:\n    - name: a\n      image: busybox\n      env: [{name: A, value: b}]\n      ports: [{containerPort: 80, hostPort: 8080}]\n    - name: b\n      image: busybox\n      ports: [{containerPort: 81, hostPort: 8080}]\n",
        );
        write(
            d,
            "broken.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n",
        );
        write(d, "notes.txt", "hello\n");
        for i in 0..6 {
            write(
                d,
                &format!("more-{i}.yaml"),
                &NAMESPACED.replace("web", &format!("web{i}")),
            );
        }
        let formats = [
            Format::Json,
            Format::Text,
            Format::Sarif,
            Format::Github,
            Format::Junit,
        ];
        for shard in [None, Some((1, 2)), Some((2, 2))] {
            let session = Session::from_layers(Layers {
                root: d.to_path_buf(),
                config: ConfigSource::None,
                flags: Flags {
                    shard: shard.map(|(index, count)| crate::eval::shard::Shard { index, count }),
                    ..Flags::default()
                },
                ..Layers::default()
            })
            .expect("session");
            let set = session.policies();
            assert!(
                fits(&set, &EvalOptions::default()),
                "the built-in set streams: {:?} {} {:?}",
                set.combined,
                set.inventory_namespaces_only,
                set.errors
            );
            assert!(slim::covers(&set));
            let paths = [d.to_path_buf()];
            let whole = session.check_paths(&paths);
            let plan = session.plan(&paths);
            let scan = scan(&plan, 0, true);
            let streamed = session.check_plan(&set, &plan, &scan, true);
            if shard.is_none() {
                for id in ["K8S101", "K8S102", "K8S103", "K8S104"] {
                    assert!(whole.findings.iter().any(|f| &*f.rule.id == id), "{id}");
                }
                assert!(!whole.findings.is_empty() && !whole.suppressed.is_empty());
                assert!(!whole.warnings.is_empty() && !whole.errors.is_empty());
            }
            assert_eq!(
                outputs(&whole, &formats),
                outputs(&streamed, &formats),
                "{shard:?}"
            );
            assert_eq!(
                outputs(&whole, &[Format::Conftest]),
                outputs(&streamed, &[Format::Conftest])
            );
            // Without checks kept, only the conftest counts could differ.
            let lean = session.check_plan(&set, &plan, &scan, false);
            assert!(lean.checks.is_empty());
            assert_eq!(outputs(&whole, &formats), outputs(&lean, &formats));
            // Written as the run goes, input by input: the same bytes and exit status.
            let formats = [Format::Text, Format::Github, Format::Jsonl];
            let as_it_goes = written_as_it_goes(
                &session,
                &set,
                &plan,
                &super::scan(&plan, 0, true),
                &formats,
            );
            for ((written, status), whole_out) in as_it_goes.iter().zip(outputs(&whole, &formats)) {
                same(
                    &[whole_out],
                    std::slice::from_ref(written),
                    &format!("{shard:?}"),
                );
                assert_eq!(*status, whole.exit_status(&ReportOptions::default()));
            }
            // Under `--shard`, each `file` event has its input's place in the run, as the
            // `json` report's inputs do.
            let files: Vec<&str> = (as_it_goes[2].0.lines())
                .filter(|l| l.contains(r#""event":"file""#))
                .collect();
            assert!(!files.is_empty());
            for line in files {
                assert_eq!(line.contains(r#""position":"#), shard.is_some(), "{line}");
            }
            // The texts kept are the lines shown, not the whole inputs.
            let text = |t: &Arc<str>| t.bytes().filter(|b| *b != b'\n').count();
            let kept: usize = streamed.sources.values().map(text).sum();
            let all: usize = whole.sources.values().map(text).sum();
            assert!(kept < all, "{kept} < {all}");
        }
    }

    /// A sink that stops reading (the output was closed) stops the run: no input is
    /// started after it, and no part is handed out after the one it refused.
    #[test]
    fn a_sink_that_stops_stops_the_run() {
        use std::sync::atomic::AtomicUsize;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for i in 0..40 {
            write(
                d,
                &format!("pod-{i:02}.yaml"),
                &NAMESPACED.replace("web", &format!("web{i}")),
            );
        }
        let session = plain_session(d);
        let set = session.policies();
        let plan = session.plan(&[d.to_path_buf()]);
        let run = |stop_after: usize| {
            let finished = AtomicUsize::new(0);
            let finish = |_: &mut Report| {
                finished.fetch_add(1, Ordering::Relaxed);
            };
            let mut handed = Vec::new();
            let mut sink = |part: Report| {
                handed.push(part.inputs[0].path.clone());
                if handed.len() < stop_after {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            let scan = scan(&plan, 0, true);
            let opts = EvalOptions::default();
            evaluate_streaming(&set, &plan, &scan, &opts, &finish, &mut sink);
            (handed, finished.into_inner())
        };
        let (all, finished) = run(usize::MAX);
        assert_eq!(all.len(), 40);
        // Each input's part, and the rest.
        assert_eq!(finished, 41);
        let (first, finished) = run(1);
        assert_eq!(first, all[..1]);
        // At most the inputs the workers had started when the sink stopped, and the rest.
        let workers = rayon::current_num_threads();
        assert!(
            finished <= workers + 2,
            "{finished} finished, {workers} workers"
        );
    }

    /// The first pass keeps what evaluation would otherwise read again: the inputs of
    /// the first MiB, and the input of a run of one, whatever its size (it is parsed
    /// whole either way); a larger run is not `small`.
    #[test]
    fn the_scan_keeps_the_only_input_of_a_run_whatever_its_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let filler = "x".repeat(400);
        let big: String = (0..3_000)
            .map(|i| {
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{a: {filler}}}\n---\n")
            })
            .collect();
        assert!(big.len() > KEEP_BYTES);
        write(d, "big.yaml", &big);
        write(d, "big2.yaml", &big);
        let session = plain_session(d);
        let kept = |scan: &Scan| {
            (scan.loaded.lock().expect("lock").iter())
                .map(Option::is_some)
                .collect::<Vec<_>>()
        };
        let one = scan(&session.plan(&[d.join("big.yaml")]), 0, true);
        assert_eq!(kept(&one), [true]);
        assert!(!one.small());
        // Beside another input, each is over the budget alone: both are read again.
        let two = scan(&session.plan(&[d.to_path_buf()]), 0, true);
        assert_eq!(kept(&two), [false, false]);
        assert!(!two.small());
        write(
            d,
            "small.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\n",
        );
        let small = scan(&session.plan(&[d.join("small.yaml")]), 0, true);
        assert_eq!(kept(&small), [true]);
        assert!(small.small());
    }

    /// One part of a rich stream: every kind of location and suppression a batch must
    /// get right, with the names of copy `i`.
    fn rich(i: usize) -> String {
        let mut s = NAMESPACED.replace("web", &format!("web{i}"));
        s.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: prod\n  annotations:\n    policy.dev/ignore: \"K8S002 reason: a test\"\nspec:\n  containers:\n    - name: a\n      image: busybox\n      securityContext:\n        # policy:ignore=K8S001 reason: a test\n        privileged: true\n    - name: b\n      image: busybox\n      securityContext:\n        # checkov:skip=CKV_K8S_16: a test\n        privileged: true\n"
        ));
        s.push_str("---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: l}, spec: {containers: [{name: c, image: x, securityContext: {privileged: true}}]}}\n");
        if i == 1001 {
            s.push_str("---\nbroken: [1, 2\n");
        }
        s.push_str(&format!(
            "---\r\napiVersion: v1\r\nkind: Service\r\nmetadata: {{name: hp{i}, namespace: prod}}\r\nspec:\r\n  selector: {{app: wbe}}\r\n"
        ));
        s.push_str(&format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: hp{i}, namespace: prod, labels: {{app: web}}}}\nspec:\n  containers:\n    - {{name: a, image: busybox, ports: [{{containerPort: 80, hostPort: 9{i}}}]}}\n    - {{name: b, image: busybox, ports: [{{containerPort: 81, hostPort: 9{i}}}]}}\n"));
        s
    }

    /// A large YAML stream read in batches ([`scan_with`]) gives the report of the whole
    /// file, byte for byte in every format, under `--shard` too: findings, code frames
    /// reaching into the next batch, inline, annotation and peer suppressions, the
    /// combined packages and Pod Security labels. A stream with a syntax error is read
    /// whole.
    #[test]
    fn a_stream_read_in_batches_reports_what_the_whole_file_reports() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let stream: String = (0..12).map(rich).collect::<Vec<_>>().join("---\n");
        write(d, "stream.yaml", &stream);
        write(d, "Dockerfile", "FROM alpine:latest\nUSER root\n");
        write(d, "small.yaml", &rich(99));
        // A syntax error in the middle: read whole.
        let broken: String = [0, 1001, 2].map(rich).join("---\n");
        write(d, "z-broken.yaml", &broken);
        let formats = [
            Format::Json,
            Format::Text,
            Format::Sarif,
            Format::Github,
            Format::Junit,
            Format::Conftest,
        ];
        for size in [1, 300, 4096] {
            let batching = Batching { min: 0, size };
            for shard in [None, Some((1, 2)), Some((2, 2))] {
                let session = Session::from_layers(Layers {
                    root: d.to_path_buf(),
                    config: ConfigSource::None,
                    flags: Flags {
                        shard: shard
                            .map(|(index, count)| crate::eval::shard::Shard { index, count }),
                        ..Flags::default()
                    },
                    ..Layers::default()
                })
                .expect("session");
                let set = session.policies();
                let paths = [d.to_path_buf()];
                let whole = session.check_paths(&paths);
                let plan = session.plan(&paths);
                let scan = scan_with(&plan, 0, Some(batching), true);
                // The Dockerfile is not YAML, the last has a syntax error: read whole.
                assert_eq!(scan.batched, [false, true, true, false], "{size}");
                let batched = session.check_plan(&set, &plan, &scan, true);
                if shard.is_none() {
                    assert!(whole.suppressed.len() >= 36, "{}", whole.suppressed.len());
                    for id in ["K8S001", "K8S103", "K8S104"] {
                        assert!(whole.findings.iter().any(|f| &*f.rule.id == id), "{id}");
                    }
                    assert!(
                        whole
                            .errors
                            .iter()
                            .any(|e| e.file.ends_with("z-broken.yaml")),
                        "{:?}",
                        whole.errors
                    );
                }
                same(
                    &outputs(&whole, &formats),
                    &outputs(&batched, &formats),
                    &format!("size {size}, shard {shard:?}"),
                );
                // Every line a location shows was kept as the batches went by: nothing
                // is read again whole.
                // What the combined packages' findings point at is read again in
                // batches, and only those lines kept: never the whole text.
                let mut streamed = evaluate(&set, &plan, &scan, &EvalOptions::default(), false);
                streamed.restore_frames(&plan);
                assert!(streamed.missing().is_empty(), "{:?}", streamed.missing());
                let text = &streamed.report.sources[&*d.join("stream.yaml").to_string_lossy()];
                let shown = text.lines().filter(|l| !l.is_empty()).count();
                let all = stream.lines().filter(|l| !l.is_empty()).count();
                assert!(shown < all, "{shown} < {all}");
            }
        }
    }

    /// Stdin is read in batches too (its format told by its content), and a stream that
    /// turns out not to be UTF-8 further down fails whole, as before.
    #[test]
    fn stdin_is_batched_and_bad_text_fails_the_file_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let stream: String = (0..4).map(rich).collect::<Vec<_>>().join("---\n");
        let session = plain_session(d);
        let set = session.policies();
        let batching = Some(Batching { min: 0, size: 500 });
        let opts = session.settings().discover.clone();
        let stdin = || {
            crate::inputs::discover::Plan::with_stdin(
                &[std::path::PathBuf::from("-")],
                &opts,
                &mut std::io::Cursor::new(stream.clone().into_bytes()),
            )
        };
        let plan = stdin();
        let scan = scan_with(&plan, 0, batching, true);
        assert_eq!(scan.batched, [true]);
        let batched = session.check_plan(&set, &plan, &scan, true);
        let whole = session.check_plan(&set, &plan, &scan_with(&plan, 0, None, true), true);
        assert!(!whole.findings.is_empty());
        let count = |r: &Report| {
            let mut m: BTreeMap<String, usize> = BTreeMap::new();
            for f in &r.findings {
                *m.entry(f.rule.id.to_string()).or_default() += 1;
            }
            m
        };
        assert_eq!(count(&whole), count(&batched));
        same(
            &outputs(&whole, &[Format::Json]),
            &outputs(&batched, &[Format::Json]),
            "stdin",
        );

        // Only white space (a vertical tab reads as YAML text): an empty file, as whole.
        let blank = "\u{b}\n".repeat(600);
        std::fs::write(d.join("blank.yaml"), &blank).expect("write");
        let plan = session.plan(&[d.join("blank.yaml")]);
        let scan = scan_with(&plan, 0, batching, true);
        assert_eq!(scan.batched, [false]);
        let report = session.check_plan(&set, &plan, &scan, false);
        assert!(
            report.errors[0].message.contains("empty file"),
            "{:?}",
            report.errors
        );

        let mut bad = stream.clone().into_bytes();
        bad.extend_from_slice(b"---\nx: \xff\n");
        std::fs::write(d.join("bad.yaml"), &bad).expect("write");
        let plan = session.plan(&[d.join("bad.yaml")]);
        let scan = scan_with(&plan, 0, batching, true);
        assert_eq!(scan.batched, [false]);
        let report = session.check_plan(&set, &plan, &scan, false);
        assert!(report.findings.is_empty());
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        assert!(report.errors[0].message.contains("UTF-8"));
    }

    /// The Kubernetes corpus as one stream (skipped without `../shared/corpora`): read
    /// in batches, the report is the whole file's.
    #[test]
    fn the_kubernetes_corpus_as_one_stream_reports_the_same_in_batches() {
        let Some(root) = crate::eval::shared_corpus("k8s") else {
            return;
        };
        let mut files: Vec<_> = walkdir(&root);
        files.sort();
        let mut stream = String::new();
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            if !stream.is_empty() {
                stream.push_str(if stream.ends_with('\n') {
                    "---\n"
                } else {
                    "\n---\n"
                });
            }
            stream.push_str(&text);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "all.yaml", &stream);
        let session = Session::from_layers(Layers {
            root: dir.path().to_path_buf(),
            config: ConfigSource::None,
            ..Layers::default()
        })
        .expect("session");
        let set = session.policies();
        let paths = [dir.path().join("all.yaml")];
        let plan = session.plan(&paths);
        let whole = session.check_paths(&paths);
        let scan = scan_with(
            &plan,
            0,
            Some(Batching {
                min: 0,
                size: 64 << 10,
            }),
            true,
        );
        assert_eq!(scan.batched, [true]);
        let batched = session.check_plan(&set, &plan, &scan, false);
        assert!(whole.findings.len() > 100, "{}", whole.findings.len());
        let formats = [Format::Json, Format::Text, Format::Sarif];
        same(
            &outputs(&whole, &formats),
            &outputs(&batched, &formats),
            "corpus",
        );
    }

    fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn blanked_text_keeps_the_kept_lines_and_the_line_count() {
        let text = "a\r\nb\nc\n\nd";
        let kept = [2, 5];
        let out = blank(text, 1, &kept);
        assert_eq!(blank("x\ny\n", 7, &[8]), "\ny\n");
        let (whole, trimmed) = (SourceLines::new(text), SourceLines::new(&out));
        assert_eq!(whole.line_count(), trimmed.line_count());
        for l in kept {
            assert_eq!(whole.line(l), trimmed.line(l));
        }
        assert_eq!(trimmed.line(1), Some(""));
    }

    #[test]
    fn frame_lines_cover_the_frame_and_the_end() {
        let span = Span::new(Position::new(3, 2), Position::new(10, 1));
        let lines: Vec<u32> = frame_lines(span).collect();
        assert_eq!(lines, [3, 4, 5, 6, 9, 10]);
        let point = Span::point(Position::new(0, 0));
        assert!(frame_lines(point).all(|l| l >= 1));
    }
}
