//! Golden tests: the exporters' output for the deterministic sample trace
//! is pinned in tests/golden/. After an intended change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p ktrace-tool --test golden` and review
//! the diff.
use std::path::PathBuf;

use ktrace::decode::Trace;
use ktrace_tool::{
    dump, html::html, intervals, locks, perfetto, sample::sample_trace, stats, DumpOptions,
};

fn sample() -> Trace {
    let t = Trace::parse(&sample_trace(2, 6));
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    t
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    if want != actual {
        let line = want
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n want: {:?}\n  got: {:?}",
            line + 1,
            want.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn dump_golden() {
    golden("dump.txt", &dump(&sample(), &DumpOptions::default()));
}

#[test]
fn dump_filters() {
    let t = sample();
    let only = dump(
        &t,
        &DumpOptions {
            cpus: vec![1],
            classes: vec!["lock".into()],
        },
    );
    let lines: Vec<&str> = only.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l.contains(" lock.")), "{only}");
    assert!(
        lines
            .iter()
            .all(|l| l.split_whitespace().nth(1) == Some("1")),
        "{only}"
    );
}

#[test]
fn stats_golden() {
    golden("stats.txt", &stats(&sample()));
}

#[test]
fn locks_golden() {
    golden("locks.txt", &locks(&sample()));
}

#[test]
fn intervals_golden() {
    let text = intervals(&sample());
    golden("intervals.txt", &text);
    // 2 processors x 6 rounds of system call 39; page faults every third.
    assert!(
        text.lines()
            .any(|l| l.starts_with("syscall 39") && l.contains(" 12 ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("pagefault ") && l.contains(" 4 ")),
        "{text}"
    );
}

#[test]
fn perfetto_golden() {
    let json = perfetto(&sample());
    golden("perfetto.json", &json);
    // And it is what Perfetto's JSON importer expects.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let events = v["traceEvents"].as_array().unwrap();
    let tracks: Vec<_> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    assert_eq!(tracks, vec![0, 1], "one track per processor");
    for e in events.iter().filter(|e| e["ph"] != "M") {
        assert!(e["ts"].is_f64() || e["ts"].is_u64(), "{e}");
        assert!(["X", "i"].contains(&e["ph"].as_str().unwrap()), "{e}");
        if e["ph"] == "X" {
            assert!(e["dur"].as_f64().unwrap() >= 0.0, "{e}");
        }
    }
    // The syscall enter/exit pairs became slices.
    assert!(events
        .iter()
        .any(|e| e["ph"] == "X" && e["name"] == "syscall"));
}

#[test]
fn html_golden() {
    let page = html(&sample(), "sample");
    golden("timeline.html", &page);
    // Self-contained: no external scripts, styles or images.
    for bad in ["src=\"http", "href=\"http", "<link", "@import"] {
        assert!(!page.contains(bad), "{bad}");
    }
    // The sample's `</script>` text cannot close the script element early.
    assert_eq!(page.matches("</script>").count(), 1);
}
