//! The import rules of `src/lib.rs`, checked: every `crate::<layer>` path in `src/**/*.rs` (in
//! `use` trees and inline, `super::` resolved) must point at a layer its own layer may use, and
//! no two files may import each other, directly or around a circle. A failure names the file and
//! line of each forbidden import, and the files of each circle.
//!
//! Reads source text only (std, no crate of ours), so it also builds alone:
//! `rustc --edition 2024 --test tests/integration/layering.rs -o /tmp/layering && /tmp/layering`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What `services` may use, and with it everything below `web` and `jobs`.
const BELOW_SERVICES: &[&str] = &[
    "state",
    "db",
    "clients",
    "domain",
    "crypto",
    "config",
    "error",
    "telemetry",
];

/// Which layers each layer may name (besides itself). `main` is the top floor and may use all;
/// `domain` may use `crypto::random` and nothing else of ours (see `allowed`).
fn may_use(layer: &str) -> Vec<&'static str> {
    let with = |extra: &[&'static str]| [extra, BELOW_SERVICES].concat();
    match layer {
        "cli" => with(&["startup", "web", "jobs", "services"]),
        "startup" => with(&["web", "jobs", "services"]),
        "web" | "jobs" => with(&["services"]),
        "services" => with(&[]),
        "state" => vec!["db", "clients", "crypto", "config", "telemetry"],
        "db" => vec!["domain", "crypto", "error"],
        "clients" => vec!["domain", "crypto", "config", "telemetry"],
        "config" => vec!["domain", "crypto"],
        _ => Vec::new(),
    }
}

/// One import of a path of ours: where it stands and what it names (crate-absolute segments).
#[derive(Debug)]
struct Import {
    line: usize,
    path: Vec<String>,
}

/// A source file and its module path (`src/web/bot/mod.rs` → `web::bot`).
struct SourceFile {
    rel: String,
    module: Vec<String>,
    imports: Vec<Import>,
}

/// What the rules say of the whole tree.
pub struct Report {
    pub files: usize,
    pub imports: usize,
    /// `file:line: text` of every import against the rules.
    pub violations: Vec<String>,
    /// Each circle's files, sorted.
    pub circles: Vec<Vec<String>>,
}

fn src_dir() -> PathBuf {
    let root = option_env!("CARGO_MANIFEST_DIR").map_or_else(
        || std::env::current_dir().expect("current directory"),
        PathBuf::from,
    );
    root.join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("src is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(rel: &str) -> Vec<String> {
    let trimmed = rel.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The text with comments and the contents of string and char literals blanked out (line
/// breaks kept, so line numbers stay right).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && is_raw_start(&chars, i) {
            // r"..." or r#"..."#
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            out.push('r');
            for _ in 0..hashes {
                out.push('#');
            }
            out.push('"');
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) => {
                        out.push('"');
                        for _ in 0..hashes {
                            out.push('#');
                        }
                        j += 1 + hashes;
                        break;
                    }
                    Some(&ch) => {
                        out.push(blank(ch));
                        j += 1;
                    }
                }
            }
            i = j;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): only the former is blanked.
            let close = if next == Some('\\') {
                (i + 2..chars.len().min(i + 12)).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    out.push('\'');
                    for _ in i + 1..end {
                        out.push(' ');
                    }
                    out.push('\'');
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_raw_start(chars: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    before_ok && chars.get(j) == Some(&'"')
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Expands a `use` tree (`crate::a::{b, c::{D, E}}`) into its leaf paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn go(s: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let s = s.trim();
        if s.is_empty() {
            return;
        }
        // Split off a leading `a::b::` run up to a `{` or the end.
        if let Some(brace) = s.find('{') {
            let head = s[..brace].trim().trim_end_matches("::");
            let mut base = prefix.to_vec();
            base.extend(
                head.split("::")
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned),
            );
            let inner = &s[brace + 1..s.rfind('}').unwrap_or(s.len())];
            for part in split_top(inner) {
                go(part, &base, out);
            }
        } else {
            let name = s.split(" as ").next().unwrap_or(s).trim();
            let mut path = prefix.to_vec();
            for seg in name.split("::").map(str::trim) {
                if seg == "self" && !path.is_empty() {
                    continue;
                }
                if !seg.is_empty() {
                    path.push(seg.to_owned());
                }
            }
            out.push(path);
        }
    }
    let mut out = Vec::new();
    go(tree, &[], &mut out);
    out
}

/// Splits on commas that are not inside braces.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Turns a path as written in `module` into crate-absolute segments, or None when it is not ours
/// (`std::…`, a dependency, or a name in scope).
fn absolute(module: &[String], path: &[String], crate_name: &str) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut base: Vec<String>;
    let mut rest = path;
    if first == "crate" || first == crate_name {
        base = Vec::new();
        rest = &path[1..];
    } else if first == "self" {
        base = module.to_vec();
        rest = &path[1..];
    } else if first == "super" {
        base = module.to_vec();
        while rest.first().map(String::as_str) == Some("super") {
            base.pop();
            rest = &rest[1..];
        }
    } else {
        return None;
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// Inline `mod name { … }` blocks: (start, end, name), so `super::` inside `mod tests` means the
/// file's own module.
fn inline_modules(chars: &[char]) -> Vec<(usize, usize, String)> {
    let mut spans = Vec::new();
    let mut open: Vec<(usize, Option<(usize, String)>)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    let mut i = 0;
    while i < chars.len() {
        let word_start = i == 0 || !is_ident(chars[i - 1]);
        if word_start && chars[i..].starts_with(&['m', 'o', 'd']) && chars.get(i + 3) == Some(&' ')
        {
            let mut j = i + 3;
            while chars.get(j) == Some(&' ') {
                j += 1;
            }
            let s = j;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            while chars.get(j).is_some_and(|c| c.is_whitespace()) {
                j += 1;
            }
            if j > s && chars.get(j) == Some(&'{') {
                pending = Some((i, chars[s..j].iter().collect::<String>().trim().to_owned()));
            }
            i += 3;
            continue;
        }
        match chars[i] {
            '{' => open.push((i, pending.take())),
            '}' => {
                if let Some((_, Some((start, name)))) = open.pop() {
                    spans.push((start, i, name));
                }
            }
            _ => {}
        }
        i += 1;
    }
    spans.sort();
    spans
}

fn imports_of(file_module: &[String], text: &str) -> Vec<Import> {
    let code = code_only(text);
    let crate_name = "jira_teams_bridge";
    let mut imports = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let line_at = |pos: usize| bytes[..pos].iter().filter(|&&c| c == '\n').count() + 1;
    let spans = inline_modules(&bytes);
    let module_at = |pos: usize| {
        let mut m = file_module.to_vec();
        m.extend(
            spans
                .iter()
                .filter(|(s, e, _)| *s <= pos && pos <= *e)
                .map(|(_, _, n)| n.clone()),
        );
        m
    };
    // 1. `use` declarations (possibly `pub`, `pub(crate)`, spanning lines).
    let mut covered: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i + 3 < bytes.len() {
        let word_start = i == 0 || !is_ident(bytes[i - 1]);
        if word_start
            && bytes[i..].starts_with(&['u', 's', 'e'])
            && bytes.get(i + 3).is_some_and(|c| c.is_whitespace())
        {
            let end = (i..bytes.len())
                .find(|&j| bytes[j] == ';')
                .unwrap_or(bytes.len());
            let tree: String = bytes[i + 3..end].iter().collect();
            for path in expand_use(&tree) {
                if let Some(abs) = absolute(&module_at(i), &path, crate_name) {
                    imports.push(Import {
                        line: line_at(i),
                        path: abs,
                    });
                }
            }
            covered.push((i, end));
            i = end;
            continue;
        }
        i += 1;
    }
    // 2. Inline paths: `crate::a::b`, `super::x`, `jira_teams_bridge::a` outside `use`.
    let mut i = 0;
    while i < bytes.len() {
        if covered.iter().any(|&(s, e)| i >= s && i < e) {
            i += 1;
            continue;
        }
        let word_start = i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == ':');
        if word_start && is_ident(bytes[i]) {
            let mut j = i;
            let mut segs = Vec::new();
            loop {
                let s = j;
                while j < bytes.len() && is_ident(bytes[j]) {
                    j += 1;
                }
                segs.push(bytes[s..j].iter().collect::<String>());
                if bytes.get(j) == Some(&':')
                    && bytes.get(j + 1) == Some(&':')
                    && bytes.get(j + 2).is_some_and(|&c| is_ident(c))
                {
                    j += 2;
                } else {
                    break;
                }
            }
            if segs.len() > 1
                && matches!(
                    segs[0].as_str(),
                    "crate" | "super" | "self" | "jira_teams_bridge"
                )
                && let Some(abs) = absolute(&module_at(i), &segs, crate_name)
            {
                imports.push(Import {
                    line: line_at(i),
                    path: abs,
                });
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    imports
}

/// The longest prefix of `path` that is a module with a file of its own.
fn file_of(path: &[String], modules: &BTreeMap<Vec<String>, String>) -> Option<String> {
    (0..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]).cloned())
}

fn layer_of(module: &[String]) -> &str {
    module.first().map_or("lib", String::as_str)
}

fn allowed(from: &str, target: &[String]) -> bool {
    let to = layer_of(target);
    if from == to || from == "main" || from == "lib" || to == "lib" {
        return true;
    }
    if from == "domain" {
        return target.get(..2) == Some(&["crypto".to_owned(), "random".to_owned()][..]);
    }
    may_use(from).contains(&to)
}

/// Reads `src/` and applies the rules.
pub fn check() -> Report {
    let src = src_dir();
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let mut files = Vec::new();
    for path in &paths {
        let rel = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = fs::read_to_string(path).expect("source is UTF-8");
        let module = if rel == "main.rs" {
            vec!["main".to_owned()]
        } else {
            module_of(&rel)
        };
        let imports = imports_of(&module, &text);
        files.push(SourceFile {
            rel: format!("src/{rel}"),
            module,
            imports,
        });
    }
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|f| (f.module.clone(), f.rel.clone()))
        .collect();
    let mut violations = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut count = 0;
    for f in &files {
        let from = layer_of(&f.module);
        for imp in &f.imports {
            let Some(target) = file_of(&imp.path, &modules) else {
                continue;
            };
            if target == f.rel {
                continue;
            }
            count += 1;
            if !allowed(from, &imp.path) {
                violations.push(format!(
                    "{}:{}: the {from} layer may not use crate::{}",
                    f.rel,
                    imp.line,
                    imp.path.join("::")
                ));
            }
            // A module's own children are declared by it, not imported: `mod x;` is no arrow,
            // but a child naming its parent's items is, and so is a parent using a child's.
            edges.entry(f.rel.clone()).or_default().insert(target);
        }
    }
    violations.dedup();
    let circles = strongly_connected(&edges);
    Report {
        files: files.len(),
        imports: count,
        violations,
        circles,
    }
}

/// Tarjan's algorithm; returns every component of more than one file.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        w.index.insert(v, w.next);
        w.low.insert(v, w.next);
        w.next += 1;
        w.stack.push(v);
        w.on_stack.insert(v);
        if let Some(targets) = w.edges.get(v) {
            for t in targets {
                let t = t.as_str();
                if !w.index.contains_key(t) {
                    visit(w, t);
                    let low = w.low[v].min(w.low[t]);
                    w.low.insert(v, low);
                } else if w.on_stack.contains(t) {
                    let low = w.low[v].min(w.index[t]);
                    w.low.insert(v, low);
                }
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            while let Some(x) = w.stack.pop() {
                w.on_stack.remove(x);
                component.push(x.to_owned());
                if x == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                w.out.push(component);
            }
        }
    }
    let mut w = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.out
}

#[test]
fn every_import_in_src_runs_down_the_layers_and_no_files_import_each_other() {
    let report = check();
    assert!(
        report.files > 50 && report.imports > 300,
        "the checker read {} files and {} imports: it is not reading src/",
        report.files,
        report.imports
    );
    let mut problems = report.violations.clone();
    for circle in &report.circles {
        problems.push(format!("import circle: {}", circle.join(" → ")));
    }
    eprintln!(
        "layering: {} files, {} imports between them, {} against the rules, {} circles",
        report.files,
        report.imports,
        report.violations.len(),
        report.circles.len()
    );
    assert!(
        problems.is_empty(),
        "imports against the rules in src/lib.rs:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_use_trees_inline_paths_and_super() {
    let module = vec!["web".to_owned(), "bot".to_owned(), "commands".to_owned()];
    let text = "use crate::{db::models::{outbox::Outbox, audit}, jobs::fanout as f};\n\
                // crate::jobs::hidden in a comment\n\
                let s = \"crate::jobs::in_a_string\";\n\
                fn x() { crate::jobs::notify::send(); super::super::admin::page(); }\n\
                use super::signin;\n";
    let paths: Vec<(usize, String)> = imports_of(&module, text)
        .into_iter()
        .map(|i| (i.line, i.path.join("::")))
        .collect();
    assert_eq!(
        paths,
        vec![
            (1, "db::models::outbox::Outbox".to_owned()),
            (1, "db::models::audit".to_owned()),
            (1, "jobs::fanout".to_owned()),
            (5, "web::bot::signin".to_owned()),
            (4, "jobs::notify::send".to_owned()),
            (4, "web::admin::page".to_owned()),
        ]
    );
    assert!(!allowed("web", &["jobs".to_owned(), "fanout".to_owned()]));
    assert!(allowed("web", &["services".to_owned()]));
    assert!(allowed(
        "domain",
        &["crypto".to_owned(), "random".to_owned(), "token".to_owned()]
    ));
    assert!(!allowed("domain", &["crypto".to_owned(), "jwt".to_owned()]));
    assert!(!allowed("clients", &["db".to_owned()]));
}
