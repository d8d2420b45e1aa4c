//! No import circles between the files of `engine/src/actors` (and, once the call core's
//! reshaping is merged, of `engine/src/call`).
//!
//! The graph: one node per file module (`actors/call.rs`, `actors/sip/mod.rs`,
//! `actors/sip/routes.rs`...). An edge `a -> b` says that `a` names an item *defined* in `b`,
//! through a `use` or a path in code (`super::x::Y`, `super::super::x`, `crate::actors::x`,
//! `crate::call::x`); re-exports are followed to the module that defines the item, so
//! `super::TrunkService` counts as `actors/trunks.rs`, not `actors/mod.rs`. A module naming
//! one of its ancestors (`use super::SipActor` in `sip/invite.rs`) is no edge: a child may
//! import its own parent. Any cycle among the remaining edges fails the test, printed with the
//! line of each edge. The source is read as text (comments and string literals skipped), so
//! the check needs no build of the engine and no other crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules of `engine/src` whose files must not import each other in a circle.
const CHECKED: &[&str] = &["actors"];

/// `engine/src/call` is checked too since its own circles (core, media_actions, report, video)
/// were broken by issue 14's parts (`io`, `effects`); `false` would only print its cycles, with
/// [`call_core_cycles_do_not_grow`] keeping them from spreading.
const CALL_CORE_CHECKED: bool = true;

/// The files of `engine/src/call` that sat in an import circle when this check was written.
/// While [`CALL_CORE_CHECKED`] is false, a circle through any other file of `call/` fails.
const CALL_CORE_KNOWN_CYCLE: &[&str] = &[
    "call/core.rs",
    "call/media_actions.rs",
    "call/report.rs",
    "call/video.rs",
];

#[test]
fn actors_have_no_import_cycles() {
    let graph = Graph::of_crate(&src_dir());
    for root in CHECKED {
        let edges = graph.edges_within(root);
        println!("{root}: {} edges", edges.len());
        for e in &edges {
            println!("  {e}");
        }
        let cycles = graph.cycles_within(root);
        assert!(
            cycles.is_empty(),
            "import circles in engine/src/{root}:\n{}",
            cycles.join("\n")
        );
    }
}

#[test]
fn call_core_has_no_import_cycles() {
    let graph = Graph::of_crate(&src_dir());
    for e in graph.edges_within("call") {
        println!("  {e}");
    }
    let cycles = graph.cycles_within("call");
    if CALL_CORE_CHECKED {
        assert!(
            cycles.is_empty(),
            "import circles in engine/src/call:\n{}",
            cycles.join("\n")
        );
    } else if cycles.is_empty() {
        println!("engine/src/call has no import circle: set CALL_CORE_CHECKED = true");
    } else {
        println!(
            "engine/src/call still has import circles (CALL_CORE_CHECKED is false):\n{}",
            cycles.join("\n")
        );
    }
}

#[test]
fn call_core_cycles_do_not_grow() {
    let graph = Graph::of_crate(&src_dir());
    let known: BTreeSet<&str> = CALL_CORE_KNOWN_CYCLE.iter().copied().collect();
    for scc in graph.cyclic_components("call") {
        let new: Vec<&String> = scc.iter().filter(|f| !known.contains(f.as_str())).collect();
        assert!(
            new.is_empty(),
            "files of engine/src/call joined an import circle: {new:?}\n{}",
            graph.cycles_within("call").join("\n")
        );
    }
}

/// The checker itself: it sees a planted circle, follows a re-export to the defining file,
/// lets a child import its parent, and skips comments and strings.
#[test]
fn the_check_finds_a_planted_cycle() {
    let files = [
        ("lib.rs", "pub mod m;"),
        (
            "m/mod.rs",
            "mod a; mod b; mod c; mod d;\npub use d::Thing;\nuse a::Alpha;",
        ),
        (
            "m/a.rs",
            "use super::b::Beta;\nuse super::Parent; // a child may import its parent\n\
             pub struct Alpha;",
        ),
        (
            "m/b.rs",
            "fn f() { let _ = crate::m::c::gamma(); }\n\
             // crate::m::d::in_a_comment\nconst S: &str = \"super::d::in_a_string\";",
        ),
        ("m/c.rs", "pub fn gamma() { super::super::m::a::Alpha; }"),
        (
            "m/d.rs",
            "pub struct Thing; #[cfg(test)] mod tests { use super::*; }",
        ),
        (
            "m/e.rs",
            "use super::Thing; // through the re-export: m/d.rs",
        ),
    ];
    let graph = Graph::of_files(files.iter().map(|(p, s)| (p.to_string(), s.to_string())));
    let edges = graph.edges_within("m");
    let pairs: Vec<(&str, &str)> = edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert!(pairs.contains(&("m/a.rs", "m/b.rs")), "{pairs:?}");
    assert!(pairs.contains(&("m/b.rs", "m/c.rs")), "{pairs:?}");
    assert!(pairs.contains(&("m/c.rs", "m/a.rs")), "{pairs:?}");
    assert!(pairs.contains(&("m/e.rs", "m/d.rs")), "{pairs:?}");
    assert!(pairs.contains(&("m/mod.rs", "m/a.rs")), "{pairs:?}");
    assert!(!pairs.iter().any(|(_, to)| *to == "m/mod.rs"), "{pairs:?}");
    assert!(!pairs.contains(&("m/b.rs", "m/d.rs")), "{pairs:?}");
    let cycles = graph.cycles_within("m");
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0]
            .starts_with("m/a.rs -> m/b.rs -> m/c.rs -> m/a.rs   (all of: m/a.rs, m/b.rs, m/c.rs)"),
        "{cycles:?}"
    );
    let sccs = graph.cyclic_components("m");
    assert_eq!(sccs, vec![vec!["m/a.rs", "m/b.rs", "m/c.rs"]]);
}

fn src_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

type ModPath = Vec<String>;

/// A module naming an item of another (or the module itself), where it does so.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    /// `file:line  path`: a place that makes the edge.
    at: String,
}

impl std::fmt::Display for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} -> {}   ({})", self.from, self.to, self.at)
    }
}

/// One `use` binding: `name` in module `scope` stands for `path` (read from `scope`).
struct Alias {
    path: Vec<String>,
    glob: bool,
}

struct Reference {
    /// The module (file or inline) the path is written in.
    scope: ModPath,
    path: Vec<String>,
    line: usize,
}

struct Graph {
    /// Every module: file modules and inline ones (`mod tests { .. }`), with the file that
    /// holds it (relative to `src/`).
    modules: BTreeMap<ModPath, String>,
    aliases: BTreeMap<ModPath, Vec<(String, Alias)>>,
    references: Vec<Reference>,
    edges: BTreeSet<Edge>,
}

impl Graph {
    fn of_crate(src: &Path) -> Graph {
        let mut files = Vec::new();
        collect(src, src, &mut files);
        assert!(
            files.iter().any(|(p, _)| p == "actors/mod.rs"),
            "engine/src/actors/mod.rs not found under {}",
            src.display()
        );
        Graph::of_files(files)
    }

    fn of_files(files: impl IntoIterator<Item = (String, String)>) -> Graph {
        let mut g = Graph {
            modules: BTreeMap::new(),
            aliases: BTreeMap::new(),
            references: Vec::new(),
            edges: BTreeSet::new(),
        };
        let files: Vec<(String, String)> = files.into_iter().collect();
        for (rel, _) in &files {
            g.modules.insert(file_module(rel), rel.clone());
        }
        for (rel, text) in &files {
            g.read(rel, text);
        }
        g.link();
        g
    }

    /// Records the file's inline modules, `use` bindings and paths.
    fn read(&mut self, rel: &str, text: &str) {
        let toks = tokens(text);
        let base = file_module(rel);
        // Inline modules open at a brace depth and close when it falls back.
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut depth = 0usize;
        let scope = |inline: &[(String, usize)]| {
            let mut m = base.clone();
            m.extend(inline.iter().map(|(n, _)| n.clone()));
            m
        };
        let mut i = 0;
        while i < toks.len() {
            let (t, line) = (&toks[i].0, toks[i].1);
            match t.as_str() {
                "{" => depth += 1,
                "}" => {
                    depth = depth.saturating_sub(1);
                    if inline.last().is_some_and(|(_, d)| *d == depth) {
                        inline.pop();
                    }
                }
                "mod" if toks.get(i + 2).is_some_and(|t| t.0 == "{") => {
                    let name = toks[i + 1].0.clone();
                    inline.push((name, depth));
                    self.modules.insert(scope(&inline), rel.to_string());
                    depth += 1;
                    i += 3;
                    continue;
                }
                "use" => {
                    let end = toks[i..]
                        .iter()
                        .position(|t| t.0 == ";")
                        .map_or(toks.len(), |p| i + p);
                    let here = scope(&inline);
                    let mut bindings = Vec::new();
                    use_tree(&toks[i + 1..end], &mut 0, Vec::new(), &mut bindings);
                    for (name, path, glob) in bindings {
                        self.references.push(Reference {
                            scope: here.clone(),
                            path: path.clone(),
                            line,
                        });
                        self.aliases
                            .entry(here.clone())
                            .or_default()
                            .push((name, Alias { path, glob }));
                    }
                    i = end + 1;
                    continue;
                }
                _ if is_ident(t)
                    && toks.get(i + 1).is_some_and(|n| n.0 == "::")
                    && (i == 0 || toks[i - 1].0 != "::") =>
                {
                    let mut path = vec![t.clone()];
                    let mut j = i + 1;
                    while toks.get(j).is_some_and(|n| n.0 == "::")
                        && toks.get(j + 1).is_some_and(|n| is_ident(&n.0))
                    {
                        path.push(toks[j + 1].0.clone());
                        j += 2;
                    }
                    self.references.push(Reference {
                        scope: scope(&inline),
                        path,
                        line,
                    });
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// Turns every reference into an edge between file modules.
    fn link(&mut self) {
        let mut edges = BTreeSet::new();
        for r in &self.references {
            let Some(target) = self.resolve(&r.scope, &r.path, 0) else {
                continue;
            };
            let from = self.file_of(&r.scope);
            let to = self.file_of(&target);
            let (from_rel, to_rel) = (&self.modules[&from], &self.modules[&to]);
            // Itself, or an ancestor: a child may import its parent.
            if to.len() <= from.len() && from[..to.len()] == to[..] {
                continue;
            }
            edges.insert(Edge {
                from: from_rel.clone(),
                to: to_rel.clone(),
                at: format!("{from_rel}:{}  {}", r.line, r.path.join("::")),
            });
        }
        // One edge per pair of files, with one place that makes it.
        let mut seen = BTreeSet::new();
        self.edges = edges
            .into_iter()
            .filter(|e| seen.insert((e.from.clone(), e.to.clone())))
            .collect();
    }

    /// The file module holding `m` (an inline module is part of its file).
    fn file_of(&self, m: &ModPath) -> ModPath {
        let file = &self.modules[m];
        file_module(file)
    }

    /// The module that defines what `path` (written in `scope`) names: `None` for another
    /// crate's item or a local name.
    fn resolve(&self, scope: &ModPath, path: &[String], hops: u32) -> Option<ModPath> {
        if hops > 16 || path.is_empty() {
            return None;
        }
        let (mut cur, rest): (ModPath, &[String]) = match path[0].as_str() {
            "crate" => (Vec::new(), &path[1..]),
            "self" => (scope.clone(), &path[1..]),
            "super" => {
                let mut m = scope.clone();
                let mut k = 0;
                while path.get(k).is_some_and(|s| s == "super") {
                    m.pop()?;
                    k += 1;
                }
                (m, &path[k..])
            }
            first => {
                let mut child = scope.clone();
                child.push(first.to_string());
                if self.modules.contains_key(&child) {
                    (child, &path[1..])
                } else if let Some(a) = self.alias(scope, first) {
                    // `sip::routes::X` after `use super::sip;`.
                    let mut p = a.path.clone();
                    p.extend_from_slice(&path[1..]);
                    return self.resolve(scope, &p, hops + 1);
                } else {
                    return None;
                }
            }
        };
        for (k, seg) in rest.iter().enumerate() {
            let mut child = cur.clone();
            child.push(seg.clone());
            if self.modules.contains_key(&child) {
                cur = child;
                continue;
            }
            if let Some(a) = self.alias(&cur, seg) {
                let mut p = a.path.clone();
                p.extend_from_slice(&rest[k + 1..]);
                return self.resolve(&cur, &p, hops + 1).or(Some(cur));
            }
            // A glob import of `cur` may bring the name in.
            for (_, g) in self.aliases.get(&cur).into_iter().flatten() {
                if !g.glob {
                    continue;
                }
                let mut p = g.path.clone();
                p.push(seg.clone());
                p.extend_from_slice(&rest[k + 1..]);
                if let Some(m) = self.resolve(&cur, &p, hops + 1) {
                    if m != cur && !is_prefix(&m, &cur) {
                        return Some(m);
                    }
                }
            }
            return Some(cur);
        }
        Some(cur)
    }

    fn alias(&self, scope: &ModPath, name: &str) -> Option<&Alias> {
        self.aliases
            .get(scope)?
            .iter()
            .find(|(n, a)| n == name && !a.glob)
            .map(|(_, a)| a)
    }

    /// The edges between files under `src/<root>/` (or `src/<root>.rs`).
    fn edges_within(&self, root: &str) -> Vec<Edge> {
        self.edges
            .iter()
            .filter(|e| under(&e.from, root) && under(&e.to, root))
            .cloned()
            .collect()
    }

    /// Strongly connected components of more than one file, each sorted.
    fn cyclic_components(&self, root: &str) -> Vec<Vec<String>> {
        let edges = self.edges_within(root);
        let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in &edges {
            next.entry(&e.from).or_default().push(&e.to);
            next.entry(&e.to).or_default();
        }
        let nodes: Vec<&str> = next.keys().copied().collect();
        let reach = |a: &str| -> BTreeSet<&str> {
            let mut seen = BTreeSet::new();
            let mut stack = vec![a];
            while let Some(n) = stack.pop() {
                for m in &next[n] {
                    if seen.insert(*m) {
                        stack.push(m);
                    }
                }
            }
            seen
        };
        let reaches: BTreeMap<&str, BTreeSet<&str>> =
            nodes.iter().map(|n| (*n, reach(n))).collect();
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut out = Vec::new();
        for &n in &nodes {
            if done.contains(n) || !reaches[n].contains(n) {
                continue;
            }
            let scc: Vec<&str> = nodes
                .iter()
                .copied()
                .filter(|m| reaches[n].contains(m) && reaches[m].contains(n))
                .collect();
            done.extend(scc.iter().copied());
            out.push(scc.into_iter().map(str::to_string).collect());
        }
        out
    }

    /// One circle per cyclic component, as `a -> b -> a`, then the lines that make its edges.
    fn cycles_within(&self, root: &str) -> Vec<String> {
        let edges = self.edges_within(root);
        let mut out = Vec::new();
        for scc in self.cyclic_components(root) {
            let inside = |f: &str| scc.iter().any(|s| s == f);
            let start = scc[0].clone();
            // Breadth-first from `start` back to itself, inside the component.
            let mut prev: BTreeMap<String, String> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start.clone()]);
            let mut closing = None;
            'search: while let Some(n) = queue.pop_front() {
                for e in edges.iter().filter(|e| e.from == n && inside(&e.to)) {
                    if e.to == start {
                        closing = Some(n.clone());
                        break 'search;
                    }
                    if !prev.contains_key(&e.to) {
                        prev.insert(e.to.clone(), n.clone());
                        queue.push_back(e.to.clone());
                    }
                }
            }
            let mut back = Vec::new();
            let mut n = closing.expect("a component of several files has a circle");
            while n != start {
                back.push(n.clone());
                n = prev[&n].clone();
            }
            let mut path = vec![start.clone()];
            path.extend(back.into_iter().rev());
            path.push(start.clone());
            let mut text = format!("{}   (all of: {})", path.join(" -> "), scc.join(", "));
            for w in path.windows(2) {
                if let Some(e) = edges.iter().find(|e| e.from == w[0] && e.to == w[1]) {
                    text.push_str(&format!("\n    {}", e.at));
                }
            }
            out.push(text);
        }
        out
    }
}

fn under(rel: &str, root: &str) -> bool {
    rel.strip_prefix(root)
        .is_some_and(|r| r.starts_with('/') || r == ".rs")
}

fn is_prefix(a: &[String], b: &[String]) -> bool {
    a.len() <= b.len() && b[..a.len()] == *a
}

/// `actors/sip/mod.rs` is `actors::sip`; `actors/sip/invite.rs` is `actors::sip::invite`.
fn file_module(rel: &str) -> ModPath {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(root, &p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            out.push((rel, text));
        }
    }
}

/// The bindings of a `use` tree (the tokens between `use` and `;`): (name, path, glob).
fn use_tree(
    toks: &[(String, usize)],
    i: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<(String, Vec<String>, bool)>,
) {
    let mut path = prefix;
    while let Some((t, _)) = toks.get(*i) {
        match t.as_str() {
            "::" => *i += 1,
            "{" => {
                *i += 1;
                while toks.get(*i).is_some_and(|t| t.0 != "}") {
                    use_tree(toks, i, path.clone(), out);
                    if toks.get(*i).is_some_and(|t| t.0 == ",") {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            "*" => {
                *i += 1;
                out.push(("*".into(), path, true));
                return;
            }
            "as" => {
                let name = toks.get(*i + 1).map(|t| t.0.clone()).unwrap_or_default();
                *i += 2;
                out.push((name, path, false));
                return;
            }
            "," | "}" => break,
            "self" if !path.is_empty() => *i += 1,
            _ if is_ident(t) => {
                path.push(t.clone());
                *i += 1;
            }
            // `pub(crate)` and the like never reach here (they precede `use`).
            _ => *i += 1,
        }
    }
    if let Some(name) = path.last().cloned() {
        out.push((name, path, false));
    }
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::` and single punctuation with their line, without comments, string and
/// character literals (a path in a doc comment or a message is no import).
fn tokens(text: &str) -> Vec<(String, usize)> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut nest = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    nest += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    nest -= 1;
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
            }
        } else if (ch == 'r' || (ch == 'b' && at(i + 1) == 'r'))
            && matches!(at(i + 1 + usize::from(ch == 'b')), '"' | '#')
            && {
                let mut k = i + 1 + usize::from(ch == 'b');
                while at(k) == '#' {
                    k += 1;
                }
                at(k) == '"'
            }
        {
            // A raw string: r"..", r#".."#, br"..".
            let mut k = i + 1 + usize::from(ch == 'b');
            let mut hashes = 0;
            while at(k) == '#' {
                hashes += 1;
                k += 1;
            }
            k += 1;
            loop {
                if k >= c.len() {
                    break;
                }
                if c[k] == '"' && (0..hashes).all(|h| at(k + 1 + h) == '#') {
                    k += 1 + hashes;
                    break;
                }
                line += usize::from(c[k] == '\n');
                k += 1;
            }
            i = k;
        } else if ch == '"' || (ch == 'b' && at(i + 1) == '"') {
            let mut k = i + 1 + usize::from(ch == 'b');
            while k < c.len() && c[k] != '"' {
                if c[k] == '\\' {
                    k += 1;
                }
                line += usize::from(at(k) == '\n');
                k += 1;
            }
            i = k + 1;
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            let q = i + usize::from(ch == 'b');
            if at(q + 1) == '\\' {
                // An escaped character: up to the closing quote.
                let mut k = q + 2;
                while k < c.len() && c[k] != '\'' {
                    k += 1;
                }
                i = k + 1;
            } else if at(q + 2) == '\'' {
                i = q + 3;
            } else {
                // A lifetime or a label: the name follows as an identifier.
                i = q + 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let s = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[s..i].iter().collect();
            // `r#type`: the raw identifier's name.
            if word == "r" && at(i) == '#' && (at(i + 1).is_alphabetic() || at(i + 1) == '_') {
                continue;
            }
            out.push((word, line));
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '.') {
                if c[i] == '.' && !at(i + 1).is_ascii_digit() {
                    break;
                }
                i += 1;
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(("::".into(), line));
            i += 2;
        } else {
            out.push((ch.to_string(), line));
            i += 1;
        }
    }
    out
}
