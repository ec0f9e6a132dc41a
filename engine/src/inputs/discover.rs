//! Finding the inputs: command-line paths, directories, stdin.
//!
//! Users point the tool at files, directories and `-`; this module turns those into one
//! [`FileReport`] per input, in a deterministic order, loading files in parallel. It exists
//! so that no input is ever dropped silently: every path named on the command line gets a
//! report (loaded, failed or skipped with a reason), and so do walked files whose names say
//! they are inputs. It does not evaluate anything.
//!
//! Rules:
//! - A path given explicitly is always attempted; when its name says nothing, its content
//!   decides (`FROM` → Dockerfile, `{` → JSON, `key:` → YAML).
//! - Directories are walked recursively with the `ignore` crate: `.gitignore`, `.ignore`
//!   and `.git/info/exclude` are honoured even outside a git repository, hidden paths such
//!   as `.github/workflows` are included, `.git/` is skipped, symbolic links are followed
//!   (a loop becomes an error entry naming the path; the walk continues). Entries are sorted
//!   by name.
//! - A symbolic link met while walking that resolves outside the directory being walked is
//!   not followed: an untrusted pull request must not be able to make the run read
//!   `~/.ssh/id_rsa` or a CI secret and print it in a code frame. It is listed as skipped
//!   with the reason (when it is a directory, or a file with an input name), unless
//!   [`DiscoverOptions::follow_outside_symlinks`] (`--follow-outside-symlinks`) allows it.
//!   Paths named on the command line are always read: the user chose them.
//! - A walked file is an input when its name is one (`Dockerfile*`, `*.dockerfile`,
//!   `Containerfile*`, `*.yaml`, `*.yml`, `*.json`). Other walked files (README.md, source
//!   code) are not inputs and are not listed; a binary, unreadable, empty or oversized file
//!   with an input name is listed with its error or skip reason.
//! - An OCI image-layout directory (it holds `oci-layout`) is one input, whether named
//!   directly or found while walking.
//! - `-` reads stdin once; its name for messages and format detection is
//!   [`DiscoverOptions::stdin_filename`] (default `<stdin>`), and `--kind` applies to it.
//! - [`DiscoverOptions::exclude`] (the configuration's `exclude`) leaves paths out before
//!   anything is opened: an excluded file is never read, an excluded directory never
//!   entered, and neither appears in the output, whether walked or named explicitly.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::batch::{Batches, Batching};
use super::{
    format_from_content, format_from_name, image, load_bytes, load_file, FileReport, Format,
    InputError, LoadOptions,
};
use crate::source::Position;

/// Options for [`collect`].
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// The name stdin (`-`) is reported under and detected by, e.g. `deploy.yaml`.
    pub stdin_filename: Option<String>,
    /// How each file is loaded.
    pub load: LoadOptions,
    /// Paths that are not inputs at all (the configuration's `exclude`): never opened,
    /// never listed.
    pub exclude: Option<Arc<dyn PathFilter>>,
    /// Follow symbolic links met while walking that resolve outside the walked directory
    /// (default: skip them with a reason).
    pub follow_outside_symlinks: bool,
}

/// Decides which paths discovery leaves out, before they are opened.
///
/// The library's inputs layer knows nothing of the configuration file; the CLI hands it
/// the configuration's `exclude` through this trait
/// ([`crate::config::Config::exclude_filter`]).
pub trait PathFilter: Send + Sync + std::fmt::Debug {
    /// Whether `path` is left out. `path` is as it would be reported: an argument, or
    /// a walked path joined onto the argument it was found under (stdin: its display
    /// name). A directory (`is_dir`) that is left out is not walked; whether it is left
    /// out must therefore imply that everything below it would be.
    fn excludes(&self, path: &Path, is_dir: bool) -> bool;
}

impl DiscoverOptions {
    fn excludes(&self, path: &Path, is_dir: bool) -> bool {
        self.exclude
            .as_ref()
            .is_some_and(|f| f.excludes(path, is_dir))
    }
}

/// The name stdin is reported under when no filename is given.
pub const STDIN_NAME: &str = "<stdin>";

/// One unit of loading work, in output order.
#[derive(Debug)]
enum Task {
    File {
        path: PathBuf,
        explicit: bool,
    },
    Layout(PathBuf),
    Stdin(Arc<[u8]>),
    /// Stdin larger than [`SPOOL_OVER`], in a temporary file (deleted with the plan), so
    /// that a large stream is not held in memory while it is read in batches.
    Spooled(tempfile::NamedTempFile, u64),
    Done(FileReport),
}

/// Discovers and loads every input under `paths` (`-` is stdin), one report per input, in
/// argument order and then by name within directories.
pub fn collect(paths: &[PathBuf], opts: &DiscoverOptions) -> Vec<FileReport> {
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    collect_with_stdin(paths, opts, &mut lock)
}

/// [`collect`] with an explicit stdin, for tests and embedding.
pub fn collect_with_stdin(
    paths: &[PathBuf],
    opts: &DiscoverOptions,
    stdin: &mut dyn Read,
) -> Vec<FileReport> {
    Plan::with_stdin(paths, opts, stdin).load_all()
}

/// The inputs under some paths, found but not yet loaded: what [`collect`] loads, one
/// input at a time. Streamed evaluation (`policy eval`) loads each input when it is
/// evaluated and drops it afterwards, so that only a bounded number of inputs are parsed
/// at any time; an input can be loaded more than once (a first pass reads what the
/// run-wide step needs). Stdin is read once, when the plan is made, and kept.
#[derive(Debug)]
pub struct Plan {
    tasks: Vec<Task>,
    opts: DiscoverOptions,
}

impl Plan {
    /// Walks `paths` as [`collect`] does (reading stdin for `-`), without loading files.
    pub fn new(paths: &[PathBuf], opts: &DiscoverOptions) -> Plan {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        Plan::with_stdin(paths, opts, &mut lock)
    }

    /// [`Plan::new`] with an explicit stdin.
    pub fn with_stdin(paths: &[PathBuf], opts: &DiscoverOptions, stdin: &mut dyn Read) -> Plan {
        Plan {
            tasks: plan(paths, opts, stdin),
            opts: opts.clone(),
        }
    }

    /// How many inputs: [`collect`] gives one report for each.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether there is no input at all.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Loads input `i` (`0..len()`): the report [`collect`] gives at that place.
    pub fn load(&self, i: usize) -> FileReport {
        run(&self.tasks[i], &self.opts)
    }

    /// [`Plan::load`] without source maps ([`LoadOptions::spans`] off): the same kinds,
    /// values and errors, for a pass that reads only values.
    pub fn load_values(&self, i: usize) -> FileReport {
        let mut opts = self.opts.clone();
        opts.load.spans = false;
        run(&self.tasks[i], &opts)
    }

    /// The size in bytes of input `i` before it is loaded, when known without reading it
    /// (a file's length, stdin's bytes).
    pub fn size_hint(&self, i: usize) -> Option<u64> {
        match &self.tasks[i] {
            Task::File { path, .. } => std::fs::metadata(path).ok().map(|m| m.len()),
            Task::Stdin(bytes) => u64::try_from(bytes.len()).ok(),
            Task::Spooled(_, len) => Some(*len),
            Task::Layout(_) | Task::Done(_) => None,
        }
    }

    /// Input `i` read in parts ([`Batches`]) when it is a large YAML stream: a regular
    /// file, or stdin, of more than `batching.min` bytes and within the size limit,
    /// whose format is YAML by its name, `--kind`, or for stdin its content. `values`:
    /// without source maps ([`Plan::load_values`]). `None`: load it whole
    /// ([`Plan::load`]), as anything else.
    pub fn batches(&self, i: usize, batching: Batching, values: bool) -> Option<Batches> {
        let mut load = self.opts.load.clone();
        if values {
            load.spans = false;
        }
        let fits = |len: u64| len > batching.min && len <= load.max_file_size;
        let (name, reader): (String, Box<dyn Read + Send>) = match &self.tasks[i] {
            Task::File { path, .. } => {
                let meta = std::fs::metadata(path).ok()?;
                if !meta.is_file() || !fits(meta.len()) {
                    return None;
                }
                yaml_syntax(format_from_name(path), &load)?.then_some(())?;
                let file = std::fs::File::open(path).ok()?;
                (path.display().to_string(), Box::new(file))
            }
            Task::Stdin(bytes) => {
                if !fits(bytes.len() as u64) {
                    return None;
                }
                let yaml = match yaml_syntax(stdin_format(&self.opts), &load) {
                    Some(yaml) => yaml,
                    None => {
                        let text = std::str::from_utf8(bytes).ok()?;
                        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
                        format_from_content(text) == Some(Format::Yaml)
                    }
                };
                yaml.then_some(())?;
                let reader = std::io::Cursor::new(Arc::clone(bytes));
                (stdin_name(&self.opts), Box::new(reader))
            }
            Task::Spooled(file, len) => {
                if !fits(*len) {
                    return None;
                }
                let mut reader = std::fs::File::open(file.path()).ok()?;
                let yaml = match yaml_syntax(stdin_format(&self.opts), &load) {
                    Some(yaml) => yaml,
                    None => prefix_format(&mut reader)? == Format::Yaml,
                };
                yaml.then_some(())?;
                std::io::Seek::rewind(&mut reader).ok()?;
                (stdin_name(&self.opts), Box::new(reader))
            }
            Task::Layout(_) | Task::Done(_) => return None,
        };
        Some(Batches::new(reader, &name, &load, batching.size, true))
    }

    /// Loads every input, in parallel: what [`collect`] returns.
    pub fn load_all(&self) -> Vec<FileReport> {
        self.tasks
            .par_iter()
            .map(|task| run(task, &self.opts))
            .collect()
    }
}

/// The inputs [`collect`] would load for `paths` with `opts`, without reading them:
/// explicit paths, walked files with input names and OCI layouts, in the same order and
/// under the same names, so that collecting them again gives the same reports. Stdin
/// (`-`) and walk errors are left out, and so is whatever [`DiscoverOptions::exclude`]
/// excludes. A watcher lists again on every change and loads only what changed.
pub fn list(paths: &[PathBuf], opts: &DiscoverOptions) -> Vec<PathBuf> {
    let opts = DiscoverOptions {
        stdin_filename: None,
        load: LoadOptions::default(),
        exclude: opts.exclude.clone(),
        follow_outside_symlinks: opts.follow_outside_symlinks,
    };
    plan(paths, &opts, &mut std::io::empty())
        .into_iter()
        .filter_map(|task| match task {
            Task::File { path, .. } | Task::Layout(path) => Some(path),
            Task::Stdin(_) | Task::Spooled(..) | Task::Done(_) => None,
        })
        .collect()
}

/// Whether an input named as `by_name` says is parsed as YAML ([`load_bytes`]'s choice),
/// when the name or `--kind` tells: `None` when only the content can.
fn yaml_syntax(by_name: Option<Format>, load: &LoadOptions) -> Option<bool> {
    match load.kind.map(|k| k.spec().syntax) {
        Some(Format::Yaml) => Some(by_name != Some(Format::Json)),
        Some(_) => Some(false),
        None => by_name.map(|f| f == Format::Yaml),
    }
}

/// The format [`format_from_content`] tells from the first 64 KiB of `reader` (its
/// whole lines), when it tells one there.
fn prefix_format(reader: &mut impl Read) -> Option<Format> {
    let mut head = Vec::new();
    reader.take(64 * 1024).read_to_end(&mut head).ok()?;
    let end = head.iter().rposition(|b| *b == b'\n')?;
    let text = std::str::from_utf8(&head[..end]).ok()?;
    format_from_content(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Stdin beyond this many bytes is spooled to a temporary file ([`Task::Spooled`]):
/// what is read in batches ([`Batching::default`]'s `min`) is not held in memory.
const SPOOL_OVER: u64 = 4 << 20;

/// The format stdin's display name tells (`--stdin-filename`).
fn stdin_format(opts: &DiscoverOptions) -> Option<Format> {
    (opts.stdin_filename.as_deref()).and_then(|n| format_from_name(Path::new(n)))
}

/// The stdin display name.
fn stdin_name(opts: &DiscoverOptions) -> String {
    opts.stdin_filename
        .clone()
        .unwrap_or_else(|| STDIN_NAME.to_string())
}

/// Walks the arguments into an ordered list of tasks (sequential: cheap, and it fixes the
/// output order).
fn plan(paths: &[PathBuf], opts: &DiscoverOptions, stdin: &mut dyn Read) -> Vec<Task> {
    let mut tasks = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == "-" {
            let name = stdin_name(opts);
            if opts.excludes(Path::new(&name), false) {
                // Named after an excluded path: not an input, and not read.
                continue;
            }
            if stdin_read {
                tasks.push(Task::Done(FileReport::failed(
                    name.as_str(),
                    InputError::new(&name, Position::START, "stdin (`-`) given more than once"),
                )));
                continue;
            }
            stdin_read = true;
            tasks.push(read_stdin(&name, stdin, opts.load.max_file_size));
            continue;
        }
        if !seen.insert(path.clone()) {
            continue;
        }
        let meta = std::fs::metadata(path);
        let is_dir = meta.as_ref().is_ok_and(|m| m.is_dir());
        if opts.excludes(path, is_dir) {
            continue;
        }
        match meta {
            Ok(_) if is_dir => {
                if image::is_oci_layout(path) {
                    tasks.push(Task::Layout(path.clone()));
                } else {
                    walk(path, opts, &mut tasks, &mut seen);
                }
            }
            // Files, and paths that cannot be read (load_file reports why).
            _ => tasks.push(Task::File {
                path: path.clone(),
                explicit: true,
            }),
        }
    }
    tasks
}

/// Reads stdin up to the size limit: into memory, or past [`SPOOL_OVER`] bytes into a
/// temporary file (into memory still if none can be made).
fn read_stdin(name: &str, stdin: &mut dyn Read, max: u64) -> Task {
    let too_large = || {
        Task::Done(FileReport::skipped(
            name,
            format!("input is larger than the {max}-byte limit"),
        ))
    };
    let mut bytes = Vec::new();
    let mut stdin = stdin.take(max.saturating_add(1));
    let head = (&mut stdin).take(SPOOL_OVER).read_to_end(&mut bytes);
    if head.is_ok() && bytes.len() as u64 == SPOOL_OVER {
        if let Ok(mut file) = tempfile::NamedTempFile::new() {
            let copied = std::io::Write::write_all(&mut file, &bytes)
                .and_then(|()| std::io::copy(&mut stdin, &mut file))
                .and_then(|n| std::io::Write::flush(&mut file).map(|()| n));
            return match copied {
                Ok(n) if SPOOL_OVER + n > max => too_large(),
                Ok(n) => Task::Spooled(file, SPOOL_OVER + n),
                Err(e) => Task::Done(unreadable_stdin(name, &e)),
            };
        }
    }
    match head.and_then(|_| stdin.read_to_end(&mut bytes)) {
        Ok(_) if bytes.len() as u64 > max => too_large(),
        Ok(_) => Task::Stdin(Arc::from(bytes)),
        Err(e) => Task::Done(unreadable_stdin(name, &e)),
    }
}

/// Stdin that could not be read.
fn unreadable_stdin(name: &str, e: &std::io::Error) -> FileReport {
    FileReport::failed(
        name,
        InputError::new(name, Position::START, format!("cannot read stdin: {e}")),
    )
}

/// Walks a directory, appending tasks for input files, layouts and walk errors. Excluded
/// directories are not entered and excluded files not looked at.
fn walk(root: &Path, opts: &DiscoverOptions, tasks: &mut Vec<Task>, seen: &mut HashSet<PathBuf>) {
    let exclude = opts.exclude.clone();
    // Links leaving the root: decided in `filter_entry` (so a linked directory is never
    // entered), reported below in walk order.
    let outside: Arc<std::sync::Mutex<Vec<(PathBuf, PathBuf)>>> = Arc::default();
    let guard = (!opts.follow_outside_symlinks).then(|| {
        (
            std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            Arc::clone(&outside),
        )
    });
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .hidden(false)
        .require_git(false)
        .git_ignore(true)
        .git_exclude(true)
        .ignore(true)
        .parents(true)
        .follow_links(true)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            if e.file_name() == ".git" {
                return false;
            }
            if let Some((root, outside)) = &guard {
                if e.path_is_symlink() {
                    if let Some(target) = leaves_root(e.path(), root) {
                        let is_dir = target.is_dir();
                        if is_dir || format_from_name(e.path()).is_some() {
                            let mut list = outside.lock().unwrap_or_else(|p| p.into_inner());
                            list.push((e.path().to_path_buf(), target));
                        }
                        return false;
                    }
                }
            }
            match &exclude {
                Some(f) if e.depth() > 0 => {
                    !f.excludes(e.path(), e.file_type().is_some_and(|t| t.is_dir()))
                }
                _ => true,
            }
        });
    let mut layouts: Vec<PathBuf> = Vec::new();
    let take_outside = |tasks: &mut Vec<Task>, seen: &mut HashSet<PathBuf>| {
        let mut list = outside.lock().unwrap_or_else(|p| p.into_inner());
        for (link, target) in list.drain(..) {
            if seen.insert(link.clone()) {
                let display = link.display().to_string();
                tasks.push(Task::Done(FileReport::skipped(
                    display.as_str(),
                    format!(
                        "symbolic link to {}, outside the directory being checked; not \
                         followed (--follow-outside-symlinks allows it)",
                        target.display()
                    ),
                )));
            }
        }
    };
    for entry in builder.build() {
        take_outside(tasks, seen);
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let report = walk_error(root, err);
                if !opts.excludes(Path::new(&*report.path), false) {
                    tasks.push(Task::Done(report));
                }
                continue;
            }
        };
        let path = entry.path();
        if layouts.iter().any(|l| path.starts_with(l)) {
            continue;
        }
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if is_dir {
            if entry.depth() > 0 && image::is_oci_layout(path) {
                layouts.push(path.to_path_buf());
                if seen.insert(path.to_path_buf()) {
                    tasks.push(Task::Layout(path.to_path_buf()));
                }
            }
            continue;
        }
        if format_from_name(path).is_none() {
            continue;
        }
        if seen.insert(path.to_path_buf()) {
            tasks.push(Task::File {
                path: path.to_path_buf(),
                explicit: false,
            });
        }
    }
    take_outside(tasks, seen);
}

/// Where the symbolic link `link` resolves to, when that is outside `root` (canonical).
/// A dangling link resolves nowhere and is left to the loader, which reports it.
fn leaves_root(link: &Path, root: &Path) -> Option<PathBuf> {
    let target = std::fs::canonicalize(link).ok()?;
    (!target.starts_with(root)).then_some(target)
}

/// A report for an error met while walking (symlink loop, unreadable directory, bad
/// ignore file), naming the path involved.
fn walk_error(root: &Path, err: ignore::Error) -> FileReport {
    let path = error_path(&err).unwrap_or_else(|| root.to_path_buf());
    let display = path.display().to_string();
    let message = match loop_of(&err) {
        Some((ancestor, child)) => format!(
            "symbolic link loop: {} points back to its ancestor {}; not followed",
            child.display(),
            ancestor.display()
        ),
        None => format!("cannot walk: {}", innermost(&err)),
    };
    FileReport::failed(
        display.as_str(),
        InputError::new(&display, Position::START, message),
    )
}

/// The path an `ignore` error is about.
fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    let mut e = err;
    loop {
        match e {
            ignore::Error::WithPath { path, .. } => return Some(path.clone()),
            ignore::Error::Loop { child, .. } => return Some(child.clone()),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                e = err
            }
            ignore::Error::Partial(errs) => e = errs.first()?,
            _ => return None,
        }
    }
}

/// The loop an `ignore` error reports, if it is one.
fn loop_of(err: &ignore::Error) -> Option<(PathBuf, PathBuf)> {
    let mut e = err;
    loop {
        match e {
            ignore::Error::Loop { ancestor, child } => {
                return Some((ancestor.clone(), child.clone()))
            }
            ignore::Error::WithPath { err, .. }
            | ignore::Error::WithDepth { err, .. }
            | ignore::Error::WithLineNumber { err, .. } => e = err,
            ignore::Error::Partial(errs) => e = errs.first()?,
            _ => return None,
        }
    }
}

/// The innermost message of an `ignore` error (the path is reported separately).
fn innermost(err: &ignore::Error) -> String {
    let mut e = err;
    loop {
        match e {
            ignore::Error::WithPath { err, .. } | ignore::Error::WithDepth { err, .. } => e = err,
            other => return other.to_string(),
        }
    }
}

/// Loads one task.
fn run(task: &Task, opts: &DiscoverOptions) -> FileReport {
    match task {
        Task::File { path, explicit } => load_file(path, &opts.load, *explicit),
        Task::Layout(dir) => image::load_layout(dir, &opts.load),
        Task::Stdin(bytes) => load_bytes(&stdin_name(opts), bytes, stdin_format(opts), &opts.load),
        Task::Spooled(file, _) => {
            let name = stdin_name(opts);
            match std::fs::read(file.path()) {
                Ok(bytes) => load_bytes(&name, &bytes, stdin_format(opts), &opts.load),
                Err(e) => unreadable_stdin(&name, &e),
            }
        }
        Task::Done(report) => report.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stdin past [`SPOOL_OVER`] bytes goes to a temporary file and reads back as it was:
    /// whole, or in batches; past the size limit it is skipped.
    #[test]
    fn large_stdin_is_spooled_and_reads_back_as_it_was() {
        let doc = format!("a: {}\n", "x".repeat(4000));
        let text = vec![doc.as_str(); 1100].join("---\n");
        let opts = DiscoverOptions::default();
        let stdin = [PathBuf::from("-")];
        let plan = Plan::with_stdin(&stdin, &opts, &mut std::io::Cursor::new(text.as_bytes()));
        assert!(
            matches!(plan.tasks[0], Task::Spooled(..)),
            "{:?}",
            plan.tasks[0]
        );
        assert_eq!(plan.size_hint(0), Some(text.len() as u64));
        let whole = plan.load(0);
        assert_eq!(&*whole.path, STDIN_NAME);
        assert_eq!(whole.documents.len(), 1100);
        assert_eq!(whole.source.as_deref(), Some(text.as_str()));
        let batches: Vec<_> = (plan.batches(0, Batching::default(), false))
            .expect("a YAML stream, by its content")
            .map(|b| b.expect("batch"))
            .collect();
        assert!(batches.len() >= 4, "{}", batches.len());
        let docs: usize = batches.iter().map(|b| b.documents.len()).sum();
        assert_eq!(docs, 1100);
        let again: String = batches.iter().map(|b| &*b.source).collect();
        assert_eq!(again, text);
        // Small stdin stays in memory; a stream past the limit is skipped.
        let plan = Plan::with_stdin(&stdin, &opts, &mut std::io::Cursor::new(doc.as_bytes()));
        assert!(matches!(plan.tasks[0], Task::Stdin(_)));
        let mut tight = DiscoverOptions::default();
        tight.load.max_file_size = 4_200_000;
        let plan = Plan::with_stdin(&stdin, &tight, &mut std::io::Cursor::new(text.as_bytes()));
        let skipped = plan.load(0);
        assert!(
            skipped
                .skipped
                .as_deref()
                .is_some_and(|r| r.contains("limit")),
            "{skipped:?}"
        );
    }

    #[test]
    fn list_names_what_collect_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("k8s/ignored")).expect("mkdir");
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").expect("write");
        std::fs::write(root.join("README.md"), "# not an input\n").expect("write");
        std::fs::write(root.join("k8s/pod.yaml"), "kind: Pod\n").expect("write");
        std::fs::write(root.join("k8s/ignored/x.yaml"), "a: 1\n").expect("write");
        std::fs::write(root.join(".gitignore"), "ignored/\n").expect("write");
        let paths = vec![root.to_path_buf()];
        let listed = list(&paths, &DiscoverOptions::default());
        let collected: Vec<PathBuf> =
            collect_with_stdin(&paths, &DiscoverOptions::default(), &mut std::io::empty())
                .iter()
                .map(|r| PathBuf::from(&*r.path))
                .collect();
        assert_eq!(listed, collected);
        assert_eq!(listed, [root.join("Dockerfile"), root.join("k8s/pod.yaml")]);
        // Collecting the listed paths again gives the same names.
        let again: Vec<PathBuf> =
            collect_with_stdin(&listed, &DiscoverOptions::default(), &mut std::io::empty())
                .iter()
                .map(|r| PathBuf::from(&*r.path))
                .collect();
        assert_eq!(again, listed);
    }
}

#[cfg(test)]
mod exclude_tests {
    use super::*;
    use std::sync::Mutex;

    /// Leaves out `vendor` directories and `*.tmp.yaml` files, and records every question.
    #[derive(Debug, Default)]
    struct Recording {
        asked: Mutex<Vec<(PathBuf, bool)>>,
    }

    impl PathFilter for Recording {
        fn excludes(&self, path: &Path, is_dir: bool) -> bool {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push((path.to_path_buf(), is_dir));
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (is_dir && name == "vendor") || name.ends_with(".tmp.yaml")
        }
    }

    #[test]
    fn excluded_paths_are_never_opened_nor_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("vendor/deep")).expect("mkdir");
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").expect("write");
        // Would be a parse error (and a binary-file error) if it were read.
        std::fs::write(root.join("vendor/deep/bad.yaml"), "a: [\n\0").expect("write");
        std::fs::write(root.join("x.tmp.yaml"), "a: [\n").expect("write");
        let filter = Arc::new(Recording::default());
        let opts = DiscoverOptions {
            exclude: Some(filter.clone()),
            ..DiscoverOptions::default()
        };
        let paths = vec![
            root.to_path_buf(),
            root.join("x.tmp.yaml"),
            PathBuf::from("-"),
        ];
        let opts_stdin = DiscoverOptions {
            stdin_filename: Some("a.tmp.yaml".to_string()),
            ..opts.clone()
        };
        let mut stdin: &[u8] = b"a: [\n";
        let got: Vec<String> = collect_with_stdin(&paths, &opts_stdin, &mut stdin)
            .iter()
            .map(|r| r.path.to_string())
            .collect();
        assert_eq!(got, [root.join("Dockerfile").display().to_string()]);
        assert_eq!(
            stdin.len(),
            5,
            "stdin named after an excluded path is not read"
        );
        assert_eq!(list(&paths, &opts), [root.join("Dockerfile")]);

        // The vendor directory was asked about, and nothing below it (it was not entered).
        let asked = filter.asked.lock().expect("lock").clone();
        assert!(asked.contains(&(root.join("vendor"), true)), "{asked:?}");
        assert!(
            !asked
                .iter()
                .any(|(p, _)| p.starts_with(root.join("vendor/deep"))),
            "{asked:?}"
        );
        assert!(
            asked.contains(&(root.join("x.tmp.yaml"), false)),
            "{asked:?}"
        );
    }
}
