//! Live capture hardening and the operators' view (feature `live`): what `capture` does to the
//! files it writes, to its own privileges, when its interface disappears, and what `--metrics`
//! serves. Each test runs the real binary in a network namespace of its own (so no port or
//! interface clashes with anything else on the box), which needs root: the tests run when
//! `CI` or `EGRESSMAP_LIVE_TESTS` is set and we are root, and print SKIPPED otherwise.

fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

#[cfg(not(feature = "live"))]
#[test]
fn live_ops_tests_need_the_live_feature() {
    skipped("live capture tests need `cargo test --features live` (and libpcap-dev)");
}

#[cfg(feature = "live")]
mod live_ops {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Output, Stdio};
    use std::time::{Duration, Instant};

    fn bin() -> &'static str {
        env!("CARGO_BIN_EXE_egressmap")
    }

    /// Whether to run; prints why not.
    fn wanted() -> bool {
        let asked = std::env::var_os("CI").is_some_and(|v| !v.is_empty())
            || std::env::var_os("EGRESSMAP_LIVE_TESTS").is_some_and(|v| !v.is_empty());
        if !asked {
            super::skipped(
                "set CI or EGRESSMAP_LIVE_TESTS (and run as root) for the live hardening tests",
            );
            return false;
        }
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            super::skipped("the live hardening tests need root (network namespaces)");
            return false;
        }
        true
    }

    fn sh(args: &[&str]) {
        let st = Command::new(args[0])
            .args(&args[1..])
            .status()
            .expect("run command");
        assert!(st.success(), "{args:?}: {st}");
    }

    /// A network namespace with `lo` up and a veth pair `em0`/`em1`, deleted on drop, and a
    /// scratch directory (0711: the capture user must reach into it) removed with it.
    struct Netns {
        name: String,
        dir: PathBuf,
    }

    impl Netns {
        fn new(tag: &str) -> Netns {
            let name = format!("emops-{tag}-{}", std::process::id());
            let _ = Command::new("ip")
                .args(["netns", "del", &name])
                .stderr(Stdio::null())
                .status();
            sh(&["ip", "netns", "add", &name]);
            let n = Netns {
                dir: std::env::temp_dir().join(&name),
                name,
            };
            n.exec(&["ip", "link", "set", "lo", "up"]);
            n.exec(&[
                "ip", "link", "add", "em0", "type", "veth", "peer", "name", "em1",
            ]);
            n.exec(&["ip", "link", "set", "em0", "up"]);
            n.exec(&["ip", "link", "set", "em1", "up"]);
            let _ = std::fs::remove_dir_all(&n.dir);
            std::fs::create_dir(&n.dir).unwrap();
            std::fs::set_permissions(&n.dir, std::fs::Permissions::from_mode(0o711)).unwrap();
            n
        }

        fn cmd(&self, args: &[&str]) -> Command {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &self.name]).args(args);
            c
        }

        fn exec(&self, args: &[&str]) {
            let st = self.cmd(args).status().expect("ip netns exec");
            assert!(st.success(), "{args:?} in {}: {st}", self.name);
        }

        /// `egressmap capture ARGS` in the namespace, stderr to a file.
        fn capture(&self, args: &[&str]) -> (Child, PathBuf) {
            let log = self.dir.join(format!("capture-{}.log", args.len()));
            let child = self
                .cmd(&[bin(), "capture"])
                .args(args)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("start egressmap capture");
            (child, log)
        }

        /// `n` UDP datagrams of 200 bytes from inside the namespace to `to`:9 (discard).
        fn udp(&self, to: &str, n: usize) {
            let prog = format!(
                "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range({n}): s.sendto(bytes(200),('{to}',9))\n"
            );
            self.exec(&["python3", "-c", &prog]);
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(t.elapsed() < limit, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn finish(child: Child, log: &Path, limit: Duration) -> (Option<i32>, String) {
        let mut child = child;
        let t = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > limit {
                let _ = child.kill();
                panic!(
                    "capture still running after {limit:?}: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        (
            status.code(),
            std::fs::read_to_string(log).unwrap_or_default(),
        )
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .mode()
            & 0o7777
    }

    fn nobody() -> u32 {
        let out = Command::new("id").args(["-u", "nobody"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// Symlinks planted in the report directory (at the report's name, its temporary name and
    /// the flow log's name) are replaced, never written through; every file the capture creates
    /// is 0600 and regular; the capture runs as nobody with no_new_privs.
    #[test]
    fn planted_symlinks_are_not_followed_and_files_are_private() {
        if !wanted() {
            return;
        }
        let ns = Netns::new("sym");
        let out = ns.dir.join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&out, Some(nobody()), None).unwrap();
        let victim = ns.dir.join("victim");
        std::fs::write(&victim, b"precious\n").unwrap();
        for name in [
            "report.json",
            ".report.json.tmp",
            ".report.txt.tmp",
            "flows.jsonl",
        ] {
            std::os::unix::fs::symlink(&victim, out.join(name)).unwrap();
        }
        let (o, f, p) = (
            out.to_str().unwrap().to_string(),
            out.join("flows.jsonl").to_str().unwrap().to_string(),
            ns.dir.join("pcaps").to_str().unwrap().to_string(),
        );
        let (child, log) = ns.capture(&[
            "-i",
            "lo",
            "--duration",
            "4s",
            "--report-every",
            "1s",
            "--out",
            &o,
            "--flows",
            &f,
            "--report",
            "table",
            "--all-destinations",
            "--write-pcap",
            &p,
        ]);
        let pid = child.id();
        wait_for("the first snapshot", Duration::from_secs(10), || {
            std::fs::symlink_metadata(out.join("report.json")).is_ok_and(|m| m.is_file())
        });
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.contains("Name:\tegressmap") {
            assert!(
                status.contains("NoNewPrivs:\t1"),
                "no_new_privs not set:\n{status}"
            );
            let uid = nobody().to_string();
            assert!(
                status.lines().any(
                    |l| l.starts_with("Uid:") && l.split_whitespace().skip(1).all(|u| u == uid)
                ),
                "not running as nobody:\n{status}"
            );
        }
        ns.udp("127.0.0.2", 50);
        let (rc, err) = finish(child, &log, Duration::from_secs(20));
        assert_eq!(rc, Some(0), "{err}");
        assert_eq!(
            std::fs::read(&victim).unwrap(),
            b"precious\n",
            "a symlink was followed"
        );
        for name in ["report.json", "report.txt", "flows.jsonl"] {
            let path = out.join(name);
            assert!(
                std::fs::symlink_metadata(&path).unwrap().is_file(),
                "{name}: not a regular file"
            );
            assert_eq!(mode(&path), 0o600, "{name}");
        }
        let flows = std::fs::read_to_string(out.join("flows.jsonl")).unwrap();
        assert!(
            flows.contains("127.0.0.2"),
            "the flow log has the UDP flow: {flows}"
        );
        let pcaps: Vec<PathBuf> = std::fs::read_dir(ns.dir.join("pcaps"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!pcaps.is_empty(), "no --write-pcap file");
        assert_eq!(mode(&ns.dir.join("pcaps")), 0o700, "--write-pcap directory");
        for p in &pcaps {
            assert_eq!(mode(p), 0o600, "{}", p.display());
        }
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.ends_with(".tmp")),
            "temporary files left: {names:?}"
        );
    }

    /// `--group`: files 0640 of that group, a directory the capture creates 0750.
    #[test]
    fn group_makes_files_0640() {
        if !wanted() {
            return;
        }
        let ns = Netns::new("grp");
        let out = ns.dir.join("out");
        let o = out.to_str().unwrap();
        let (child, log) =
            ns.capture(&["-i", "lo", "--duration", "2s", "--out", o, "--group", "adm"]);
        let (rc, err) = finish(child, &log, Duration::from_secs(15));
        assert_eq!(rc, Some(0), "{err}");
        assert_eq!(mode(&out), 0o750);
        let m = std::fs::metadata(out.join("report.json")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o640);
        assert_eq!(m.gid(), 4, "group adm");
        assert_eq!(m.uid(), nobody());
    }

    /// A group- or other-writable report directory is refused with a clear message.
    #[test]
    fn writable_directory_is_refused() {
        if !wanted() {
            return;
        }
        let ns = Netns::new("wr");
        let out = ns.dir.join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o770)).unwrap();
        let (child, log) = ns.capture(&[
            "-i",
            "lo",
            "--duration",
            "2s",
            "--out",
            out.to_str().unwrap(),
        ]);
        let (rc, err) = finish(child, &log, Duration::from_secs(15));
        assert_eq!(rc, Some(2), "{err}");
        assert!(err.contains("group or other users can write"), "{err}");
        assert!(!out.join("report.json").exists());
    }

    /// `--flows` in a root-owned directory the capture user cannot write: opened as root before
    /// privileges are dropped, so it works; started unprivileged, the error names `--user`.
    #[test]
    fn flows_in_a_root_owned_directory() {
        if !wanted() {
            return;
        }
        let ns = Netns::new("flows");
        let rootdir = ns.dir.join("rootonly");
        std::fs::create_dir(&rootdir).unwrap();
        std::fs::set_permissions(&rootdir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let flows = rootdir.join("flows.jsonl");
        let out = ns.dir.join("out");
        let (child, log) = ns.capture(&[
            "-i",
            "lo",
            "--duration",
            "3s",
            "--out",
            out.to_str().unwrap(),
            "--all-destinations",
            "--flows",
            flows.to_str().unwrap(),
            "--user",
            "nobody",
        ]);
        wait_for("the first snapshot", Duration::from_secs(10), || {
            out.join("report.json").exists()
        });
        ns.udp("127.0.0.3", 20);
        let (rc, err) = finish(child, &log, Duration::from_secs(20));
        assert_eq!(rc, Some(0), "{err}");
        assert_eq!(mode(&flows), 0o600);
        let text = std::fs::read_to_string(&flows).unwrap();
        assert!(text.contains("127.0.0.3"), "flow log: {text}");

        // The same, started as nobody: fails before capturing, saying what to do.
        let out2 = ns.dir.join("out2");
        std::fs::create_dir(&out2).unwrap();
        std::os::unix::fs::chown(&out2, Some(nobody()), None).unwrap();
        std::fs::set_permissions(&out2, std::fs::Permissions::from_mode(0o700)).unwrap();
        let o: Output = ns
            .cmd(&[
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                bin(),
                "capture",
                "-i",
                "lo",
                "--duration",
                "1s",
                "--out",
                out2.to_str().unwrap(),
                "--flows",
                rootdir.join("mine.jsonl").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(4), "{err}");
        assert!(
            err.contains("Permission denied") && err.contains("--user"),
            "{err}"
        );
    }

    /// The interface deleted under a running capture: the capture writes its final report and
    /// exits non-zero with a message, so that a supervisor restarts it.
    #[test]
    fn interface_deleted_mid_capture_exits_non_zero() {
        if !wanted() {
            return;
        }
        let ns = Netns::new("del");
        let out = ns.dir.join("out");
        let t0 = Instant::now();
        let (child, log) = ns.capture(&[
            "-i",
            "em0",
            "--duration",
            "60s",
            "--out",
            out.to_str().unwrap(),
            "-j",
            "2",
        ]);
        wait_for("the first snapshot", Duration::from_secs(10), || {
            out.join("report.json").exists()
        });
        std::thread::sleep(Duration::from_millis(500));
        ns.exec(&["ip", "link", "del", "em0"]);
        let deleted = Instant::now();
        let (rc, err) = finish(child, &log, Duration::from_secs(20));
        eprintln!(
            "interface deleted after {:?}; capture exited {rc:?} {:?} later:\n{err}",
            deleted - t0,
            deleted.elapsed()
        );
        assert_eq!(rc, Some(3), "{err}");
        assert!(
            err.contains("went away or down") && err.contains("supervisor"),
            "{err}"
        );
        let report = std::fs::read_to_string(out.join("report.json")).unwrap();
        assert!(
            report.contains("the capture stopped on its own"),
            "final report: {report}"
        );
    }

    /// `--metrics`: scraped while the capture runs, every line parsed, the numbers match the
    /// traffic sent.
    #[test]
    fn metrics_endpoint_scraped_and_parsed() {
        if !wanted() {
            return;
        }
        let ns = Netns::new("met");
        let out = ns.dir.join("out");
        let (child, log) = ns.capture(&[
            "-i",
            "lo",
            "--duration",
            "8s",
            "--report-every",
            "1s",
            "--out",
            out.to_str().unwrap(),
            "--all-destinations",
            "--metrics",
            "127.0.0.1:9813",
        ]);
        wait_for("the metrics server", Duration::from_secs(10), || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("metrics on http://127.0.0.1:9813/metrics")
        });
        ns.udp("127.0.0.4", 100);
        // Past a snapshot boundary: the open UDP flow's bytes are in by then.
        std::thread::sleep(Duration::from_millis(2500));
        let scrape = ns
            .cmd(&["python3", "-c", "import urllib.request as u;r=u.urlopen('http://127.0.0.1:9813/metrics');print(r.headers['Content-Type']);print(r.read().decode(),end='')"])
            .output()
            .unwrap();
        assert!(
            scrape.status.success(),
            "{}",
            String::from_utf8_lossy(&scrape.stderr)
        );
        let text = String::from_utf8(scrape.stdout).unwrap();
        let (ctype, body) = text.split_once('\n').unwrap();
        assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
        let mut samples = std::collections::BTreeMap::new();
        let mut typed = std::collections::BTreeSet::new();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge"].contains(&kind), "{line}");
                assert!(typed.insert(name.to_string()), "family typed twice: {line}");
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {line:?}"));
            let v: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}"));
            let family = series.split('{').next().unwrap();
            assert!(typed.contains(family), "sample before its TYPE: {line}");
            samples.insert(series.to_string(), v);
        }
        eprintln!("scraped {} series: {samples:?}", samples.len());
        let get = |k: &str| *samples.get(k).unwrap_or_else(|| panic!("no {k} in {body}"));
        assert!(get("egressmap_packets_received_total") >= 100.0);
        for cause in ["kernel", "interface", "queue"] {
            assert_eq!(
                get(&format!(
                    "egressmap_packets_dropped_total{{cause=\"{cause}\"}}"
                )),
                0.0
            );
        }
        assert!(get("egressmap_snapshots_written_total") >= 2.0);
        assert!(get("egressmap_flows_open") >= 1.0);
        // 100 datagrams of 200 bytes payload: at least that many bytes up, to an unmatched address.
        assert!(get("egressmap_area_bytes_total{area=\"unmatched\",direction=\"up\"}") >= 20_000.0);
        let (rc, err) = finish(child, &log, Duration::from_secs(20));
        assert_eq!(rc, Some(0), "{err}");
    }

    /// `--user root` keeps root, which the capture says.
    #[test]
    fn user_root_warns() {
        if !wanted() {
            return;
        }
        let ns = Netns::new("root");
        let out = ns.dir.join("out");
        let (child, log) = ns.capture(&[
            "-i",
            "lo",
            "--duration",
            "1s",
            "--out",
            out.to_str().unwrap(),
            "--user",
            "root",
        ]);
        let (rc, err) = finish(child, &log, Duration::from_secs(15));
        assert_eq!(rc, Some(0), "{err}");
        assert!(err.contains("warning: --user root keeps root"), "{err}");
    }
}
