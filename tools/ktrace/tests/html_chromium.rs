//! The HTML timeline in a real browser: headless Chromium (Debian's
//! `chromium`) loads it with no console message or script error, draws one
//! track per processor, zooms, and shows a tooltip.
//!
//! Skipped, with a message, when `chromium` is not installed
//! (`apt-get install -y chromium`).
use std::process::Command;

use ktrace::decode::Trace;
use ktrace_tool::{html::html, sample::sample_trace};

fn chromium() -> Option<String> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return Some(name.to_string());
        }
    }
    None
}

fn attr<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let body = &dom[dom.find("<body")?..];
    let body = &body[..body.find('>')?];
    let at = body.find(&format!("{name}=\""))? + name.len() + 2;
    Some(&body[at..at + body[at..].find('"')?])
}

#[test]
fn timeline_loads_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed (apt-get install -y chromium)");
        return;
    };
    for cpus in [1usize, 4] {
        let trace = Trace::parse(&sample_trace(cpus, 8));
        let dir = std::env::temp_dir().join(format!("ktrace-html-{}-{cpus}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let page = dir.join("timeline.html");
        std::fs::write(&page, html(&trace, "headless test")).unwrap();
        let out = Command::new("timeout")
            .arg("120")
            .arg(&browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1200,800",
            ])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg("--dump-dom")
            .arg(format!("file://{}#selftest", page.display()))
            .output()
            .expect("chromium runs");
        let dom = String::from_utf8_lossy(&out.stdout);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "chromium failed: {log}");
        let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
        assert!(console.is_empty(), "console messages: {console:#?}");
        assert_eq!(
            attr(&dom, "data-status"),
            Some("ok"),
            "page status; log: {log}"
        );
        assert_eq!(attr(&dom, "data-errors"), None);
        assert_eq!(attr(&dom, "data-tracks"), Some(cpus.to_string().as_str()));
        assert_eq!(
            dom.matches("class=\"track\"").count(),
            cpus,
            "tracks in the DOM"
        );
        assert_eq!(attr(&dom, "data-zoomed"), Some("true"));
        // The tooltip's first line is the event's `class.name`.
        let tip = attr(&dom, "data-tip").unwrap_or("");
        assert!(tip.contains('.'), "no tooltip shown: {tip:?}");
        let drawn: usize = attr(&dom, "data-drawn").unwrap().parse().unwrap();
        assert!(drawn > 0);
        // The timeline spans the 1200-pixel window.
        let width: f64 = attr(&dom, "data-width").unwrap().parse().unwrap();
        assert!(
            width > 1000.0,
            "timeline {width} px wide in a 1200 px window"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
