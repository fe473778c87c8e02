//! The crate's top-level modules form layers: each may use the ones below it, never one
//! above. This test reads the sources, collects every `crate::module` reference per
//! top-level module, and fails on a dependency cycle (naming the files that close it) or on a
//! module that reaches above its layer. It is hand-written because no maintained crate
//! checks module-level cycles inside one crate; `cargo modules` needs a nightly toolchain.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → (module it uses → files that use it).
type Edges = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// The layers, bottom first. A module may use modules of its own layer or lower ones; the
/// module graph as a whole must also be acyclic.
const LAYERS: &[&[&str]] = &[
    // Shared types: errors, the catalog model and SQL names, the COPY text codec.
    &["error", "catalog", "copytext"],
    // Concepts: storage, the repository, retention tiers, anonymization, PostgreSQL access.
    &[
        "store",
        "retention",
        "anonymize",
        "pg",
        "repo",
        "rules",
        "config",
        "as_of",
    ],
    // Engines: the pipelines' machinery.
    &[
        "snapshot",
        "source_subset",
        "restore",
        "derive",
        "synth",
        "verify",
        "transfer",
        "prune",
        "drill",
        "reseed",
        "changes",
        "status",
    ],
    // Verbs: one library command each, every safety guard inside.
    &["commands"],
    // The daemon, which runs verbs on a clock.
    &["schedule"],
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a line without its comment (doc links name modules without using them).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn edges() -> Edges {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut edges = Edges::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("component");
        let top = first.as_os_str().to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        // The binary (`main.rs`, `cli/`) sees only the library's public API: it cannot
        // close a cycle.
        if matches!(top.as_str(), "lib" | "main" | "layers" | "cli") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read source");
        for line in text.lines() {
            let line = code(line);
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // `crate::say!` is a macro exported at the root, not a module.
                let macro_call = rest[name.len()..].starts_with('!');
                if !name.is_empty()
                    && !macro_call
                    && name != top
                    && name != "Error"
                    && name != "Result"
                {
                    edges
                        .entry(top.clone())
                        .or_default()
                        .entry(name)
                        .or_default()
                        .insert(rel.display().to_string());
                }
            }
        }
    }
    edges
}

/// A cycle through `start`, if any, as the list of modules along it.
fn cycle_from(edges: &Edges, start: &str) -> Option<Vec<String>> {
    fn walk(
        edges: &Edges,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in edges.get(at).into_iter().flat_map(|m| m.keys()) {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(edges, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(edges, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn the_modules_have_no_dependency_cycle() {
    let edges = edges();
    for module in edges.keys() {
        if let Some(cycle) = cycle_from(&edges, module) {
            let mut story = String::new();
            for (i, from) in cycle.iter().enumerate() {
                let to = &cycle[(i + 1) % cycle.len()];
                let files: Vec<_> = edges[from][to].iter().cloned().collect();
                story.push_str(&format!("\n  {from} -> {to}  ({})", files.join(", ")));
            }
            panic!("dependency cycle among top-level modules:{story}");
        }
    }
}

#[test]
fn every_module_uses_only_its_layer_and_those_below() {
    let layer_of = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    let edges = edges();
    let mut wrong = Vec::new();
    for (from, uses) in &edges {
        let Some(own) = layer_of(from) else {
            wrong.push(format!(
                "{from}: not in any layer (add it to LAYERS in src/layers.rs)"
            ));
            continue;
        };
        for (to, files) in uses {
            match layer_of(to) {
                Some(l) if l <= own => {}
                Some(_) => wrong.push(format!("{from} uses {to}, a higher layer ({files:?})")),
                None => wrong.push(format!("{from} uses {to}, which is not in any layer")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "layering broken:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_check_sees_a_cycle_when_there_is_one() {
    let mut edges = Edges::new();
    let link = |edges: &mut Edges, a: &str, b: &str| {
        edges
            .entry(a.into())
            .or_default()
            .entry(b.into())
            .or_default()
            .insert(format!("{a}.rs"));
    };
    link(&mut edges, "config", "repo");
    link(&mut edges, "repo", "rules");
    assert_eq!(cycle_from(&edges, "config"), None);
    link(&mut edges, "rules", "config");
    assert_eq!(
        cycle_from(&edges, "config"),
        Some(vec!["config".into(), "repo".into(), "rules".into()])
    );
}
