//! The shape of the source tree, as `docs/architecture.md` describes it, checked so that it
//! stays that way:
//! - no import circle between files (a file A that uses B while B uses A, directly or through
//!   others): each room's files form layers, and so do the rooms;
//! - no file in `src/` longer than [`MAX_LINES`] lines of code (unit tests apart), but for the
//!   few named in [`LONG_FILES`] with the reason;
//! - every room (top-level module) is in the map of `docs/architecture.md`, and `lib.rs`
//!   points there.
//!
//! The imports are read from the source text: `use` trees (`use crate::a::{b, c::D}`,
//! `super::`, `self::`) and paths written inline (`crate::a::f()`), outside comments and
//! outside `#[cfg(test)]` modules; `mod x;` declarations are not uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a file of `src/` may be, in lines before its unit tests.
const MAX_LINES: usize = 600;

/// Files allowed to be longer, and why.
const LONG_FILES: &[(&str, &str)] = &[];

/// A module path (`["electrum", "cost"]`; empty for the crate root).
type ModPath = Vec<String>;

/// Every file of the library (not `src/bin/`), by module path.
fn modules(src: &Path) -> BTreeMap<ModPath, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(src).expect("under src");
            if rel.starts_with("bin") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let file = parts.pop().expect("file name");
            match file.as_str() {
                "lib.rs" | "mod.rs" => {}
                f => parts.push(f.trim_end_matches(".rs").to_owned()),
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The code of a file without its comments and without its `#[cfg(test)]` modules.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            // Skip the item that follows: up to its closing brace at the same indentation,
            // or its `;`.
            let indent = line.len() - trimmed.len();
            if lines
                .peek()
                .is_some_and(|l| l.trim_end().ends_with('}') || l.trim_end().ends_with(';'))
            {
                lines.next();
                continue;
            }
            for next in lines.by_ref() {
                let t = next.trim_start();
                let at = next.len() - t.len();
                if at == indent && (t.starts_with('}') || t.ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        let without = match trimmed.find("//") {
            Some(0) => "",
            _ => line,
        };
        out.push_str(without);
        out.push('\n');
    }
    out
}

/// Lines of a file before its first `#[cfg(test)]`.
fn code_lines(text: &str) -> usize {
    text.lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .count()
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let close = tree.rfind('}').filter(|&c| c > open).unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand(p)
                .into_iter()
                .map(|e| format!("{prefix}{e}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The paths a file's code names: its `use` trees and the `crate::`/`super::`/`self::`
/// paths written inline.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `use` items (`pub use`, `pub(crate) use` too), each from the start of a line to its `;`.
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let mut t = line.trim_start();
        if let Some(rest) = t.strip_prefix("pub") {
            t = match rest.strip_prefix('(') {
                Some(r) => r.split_once(')').map_or("", |(_, after)| after),
                None => rest,
            }
            .trim_start();
        }
        let Some(tree) = t.strip_prefix("use ") else {
            continue;
        };
        let mut item = tree.to_owned();
        while !item.contains(';') {
            match lines.next() {
                Some(more) => item.push_str(more),
                None => break,
            }
        }
        let item = item.split(';').next().unwrap_or_default();
        out.extend(expand(item));
    }
    // Inline paths.
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            // `super::{a, b}` in a `use` line: the tree was expanded above.
            if !code[at..end].ends_with("::") {
                out.push(code[at..end].to_owned());
            }
        }
    }
    out
}

/// The module a path names, as the file that holds it: the longest prefix of the path that
/// is a module. `None` for paths outside the crate.
fn resolve(path: &str, here: &ModPath, mods: &BTreeMap<ModPath, PathBuf>) -> Option<ModPath> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    // A `foo.rs` file and `foo/mod.rs` are both module `foo`.
    let mut base: ModPath = here.clone();
    let mut i = 0;
    match segs.first().copied()? {
        "crate" => {
            base.clear();
            i = 1;
        }
        "self" => i = 1,
        "super" => {
            while segs.get(i) == Some(&"super") {
                base.pop();
                i += 1;
            }
        }
        // 2018 paths: `use child::X` names a child module of this one.
        first => {
            let mut child = here.clone();
            child.push(first.to_owned());
            if !mods.contains_key(&child) {
                return None;
            }
        }
    }
    let mut full = base;
    full.extend(segs[i..].iter().map(|s| (*s).to_owned()));
    while !full.is_empty() && !mods.contains_key(&full) {
        full.pop();
    }
    Some(full)
}

/// The strongly connected components of more than one file (Tarjan).
fn circles(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        graph: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        next: usize,
        found: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a ModPath) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Who uses whom, file by file (a file's uses of itself and of `lib.rs` left out).
fn graph() -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mods = modules(&src());
    let mut graph = BTreeMap::new();
    for (m, file) in &mods {
        let text = std::fs::read_to_string(file).expect("read");
        let uses: BTreeSet<ModPath> = paths(&code(&text))
            .iter()
            .filter_map(|p| resolve(p, m, &mods))
            .filter(|target| target != m && !target.is_empty())
            .collect();
        graph.insert(m.clone(), uses);
    }
    graph
}

fn name(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".to_owned()
    } else {
        m.join("::")
    }
}

#[test]
fn the_reader_finds_uses() {
    // The parsing this test relies on, on known text.
    assert_eq!(
        expand("crate::a::{b, c::{D, E}, self}"),
        [
            "crate::a::b",
            "crate::a::c::D",
            "crate::a::c::E",
            "crate::a::self"
        ]
    );
    let text = "use super::x::Y;\n// use crate::comment::Z;\nfn f() { crate::inline::g(); }\n\
                #[cfg(test)]\nmod tests {\n    use crate::only_tests::T;\n}\n";
    let found = paths(&code(text));
    assert!(found.contains(&"super::x::Y".to_owned()), "{found:?}");
    assert!(found.contains(&"crate::inline::g".to_owned()), "{found:?}");
    assert!(!found.iter().any(|p| p.contains("comment")), "{found:?}");
    assert!(!found.iter().any(|p| p.contains("only_tests")), "{found:?}");
    // A grouped `use` names its items, not the module it starts from.
    let found = paths(&code("use super::{a, b::C};\n"));
    assert_eq!(found, ["super::a", "super::b::C"]);
    // And on the tree: lib.rs is the root, and the transport room's files use each other.
    let g = graph();
    let connection = vec!["transport".to_owned(), "connection".to_owned()];
    let lines = vec!["transport".to_owned(), "lines".to_owned()];
    assert!(g[&connection].contains(&lines), "{:?}", g[&connection]);
    // A circle is found when there is one.
    let (a, b) = (vec!["a".to_owned()], vec!["b".to_owned()]);
    let looped = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert_eq!(circles(&looped), vec![vec![a, b]]);
}

#[test]
fn no_file_imports_a_file_that_imports_it() {
    let g = graph();
    let found = circles(&g);
    // Each circle with its edges, so that the message says what to cut.
    let described: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    g[a].iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{} → {}", name(a), name(b)))
                })
                .collect();
            format!(
                "{}: {}",
                c.iter().map(name).collect::<Vec<_>>().join(" ↔ "),
                edges.join(", ")
            )
        })
        .collect();
    assert!(
        described.is_empty(),
        "import circles:\n{}",
        described.join("\n")
    );
}

#[test]
fn no_file_is_longer_than_600_lines_of_code() {
    let src = src();
    let mut long = Vec::new();
    for file in modules(&src).values() {
        let rel = file.strip_prefix(&src).expect("under src");
        let rel = rel.to_string_lossy().into_owned();
        let lines = code_lines(&std::fs::read_to_string(file).expect("read"));
        let allowed = LONG_FILES.iter().any(|(f, _)| *f == rel);
        if lines > MAX_LINES && !allowed {
            long.push(format!("src/{rel}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn every_room_is_on_the_map() {
    let map =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .expect("docs/architecture.md");
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    assert!(
        lib.contains("docs/architecture.md"),
        "lib.rs points to the map"
    );
    assert!(
        !lib.contains("../"),
        "lib.rs names no path outside the crate"
    );
    let rooms: BTreeSet<String> = modules(&src())
        .keys()
        .filter_map(|m| m.first().cloned())
        .collect();
    for room in rooms {
        assert!(
            map.contains(&format!("`{room}`")) || map.contains(&format!("`src/{room}")),
            "docs/architecture.md does not name the room `{room}`"
        );
        assert!(
            lib.contains(&format!("mod {room};")),
            "lib.rs does not declare `{room}`"
        );
    }
}

#[test]
fn the_rooms_form_layers() {
    // Who uses whom, room by room (the top-level modules): no circle either.
    let mut rooms: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (file, uses) in graph() {
        let Some(room) = file.first() else { continue };
        let entry = rooms.entry(vec![room.clone()]).or_default();
        for u in uses {
            if u[0] != *room {
                entry.insert(vec![u[0].clone()]);
            }
        }
    }
    let found = circles(&rooms);
    assert!(found.is_empty(), "rooms in a circle: {found:?}");
}
