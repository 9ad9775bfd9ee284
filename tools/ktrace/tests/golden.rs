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
    // 2 processors x 6 rounds of system call 39 (named by `syscall.name`);
    // page faults every third; each processor's dispatcher ran 6 times.
    assert!(
        text.lines()
            .any(|l| l.starts_with("syscall ipc_call ") && l.contains(" 12 ")),
        "{text}"
    );
    for d in ["running worker d1.0 ", "running worker d2.0 "] {
        assert!(
            text.lines().any(|l| l.starts_with(d) && l.contains(" 6 ")),
            "{text}"
        );
    }
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
    // One track per processor, and one for its dispatchers.
    assert_eq!(tracks, vec![0, 1000, 1, 1001]);
    for e in events.iter().filter(|e| e["ph"] != "M") {
        assert!(e["ts"].is_f64() || e["ts"].is_u64(), "{e}");
        assert!(["X", "i"].contains(&e["ph"].as_str().unwrap()), "{e}");
        if e["ph"] == "X" {
            assert!(e["dur"].as_f64().unwrap() >= 0.0, "{e}");
        }
    }
    assert_slices_nest(events);
    // The syscall enter/exit pairs became slices named after the call,
    // and each dispatcher run a slice on the dispatcher track.
    assert!(events
        .iter()
        .any(|e| e["ph"] == "X" && e["name"] == "syscall ipc_call"));
    let runs = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["tid"] == 1001 && e["name"] == "worker d2.0")
        .count();
    assert_eq!(runs, 6);
    // No dispatcher runs while its processor idles.
    let span = |e: &serde_json::Value| {
        let ts = e["ts"].as_f64().unwrap();
        (ts, ts + e["dur"].as_f64().unwrap())
    };
    let idle: Vec<_> = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["name"] == "sched.idle")
        .collect();
    assert!(!idle.is_empty());
    for i in idle {
        let (a, b) = span(i);
        let tid = i["tid"].as_u64().unwrap() + 1000;
        for d in events.iter().filter(|e| e["ph"] == "X" && e["tid"] == tid) {
            let (c, d) = span(d);
            assert!(d <= a || c >= b, "a dispatcher runs in idle time {a}..{b}");
        }
    }
}

/// Slices on one Perfetto track nest (Perfetto draws partial overlaps
/// wrongly): that is why dispatcher runs, which a switch inside an
/// interrupt ends, have their own track. Compared in whole nanoseconds, as
/// Perfetto reads the microsecond values.
fn assert_slices_nest(events: &[serde_json::Value]) {
    let ns = |v: &serde_json::Value| (v.as_f64().unwrap() * 1000.0).round() as i64;
    let mut slices: std::collections::BTreeMap<u64, Vec<(i64, i64)>> = Default::default();
    for e in events.iter().filter(|e| e["ph"] == "X") {
        let (ts, dur) = (ns(&e["ts"]), ns(&e["dur"]));
        slices
            .entry(e["tid"].as_u64().unwrap())
            .or_default()
            .push((ts, ts + dur));
    }
    assert!(!slices.is_empty());
    for (tid, mut s) in slices {
        s.sort_by_key(|&(start, end)| (start, std::cmp::Reverse(end)));
        let mut open: Vec<i64> = Vec::new();
        for (start, end) in s {
            while open.last().is_some_and(|&e| e <= start) {
                open.pop();
            }
            if let Some(&outer) = open.last() {
                assert!(
                    end <= outer,
                    "slices overlap on track {tid}: {start}..{end} in ..{outer}"
                );
            }
            open.push(end);
        }
    }
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
