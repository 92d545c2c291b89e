//! Writes seed corpora for every fuzz target under `fuzz/corpus/<target>/` from the fixtures,
//! the shared capture corpus and the shipped/published signature sources. Run via `fuzz/seeds.sh`.
//!
//! Protocol targets get each flow direction's first bytes, reassembled with the project's own
//! decoder and reassembler, so seeds look like what the parsers see in the engine.
use egressmap::capture::file::CaptureFile;
use egressmap::capture::LinkType;
use egressmap::decode::{Decoder, Transport};
use egressmap::flow::reassembly::Reassembler;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Seeds are cut to this size: libFuzzer's speed drops with input length.
const MAX_SEED: usize = 64 * 1024;
const LINKS: [u32; 13] = [1, 101, 228, 229, 0, 108, 113, 276, 9, 105, 127, 192, 10];

struct Out {
    root: PathBuf,
    seen: HashSet<(String, u64)>,
    counts: HashMap<String, usize>,
}

impl Out {
    fn put(&mut self, target: &str, data: &[u8]) {
        let data = &data[..data.len().min(MAX_SEED)];
        if data.is_empty() || self.counts.get(target).copied().unwrap_or(0) >= 400 {
            return;
        }
        let h = fnv(data);
        if !self.seen.insert((target.to_string(), h)) {
            return;
        }
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("create corpus dir");
        fs::write(dir.join(format!("{h:016x}")), data).expect("write seed");
        *self.counts.entry(target.to_string()).or_default() += 1;
    }
}

fn fnv(d: &[u8]) -> u64 {
    d.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn captures(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in dirs {
        let Ok(rd) = fs::read_dir(d) else {
            eprintln!("note: {} not readable, skipped", d.display());
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let n = p.to_string_lossy().to_string();
            if n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".cap") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

#[derive(Default)]
struct Dir {
    r: Option<Reassembler>,
    segs: Vec<(u32, Vec<u8>)>,
}

fn from_capture(path: &Path, out: &mut Out) {
    let Ok(bytes) = fs::read(path) else { return };
    let target = if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        "pcapng"
    } else {
        "pcap"
    };
    out.put(target, &bytes);
    if bytes.len() <= MAX_SEED {
        out.put("engine", &bytes);
    }
    let Ok(f) = CaptureFile::from_vec(path, bytes) else {
        return;
    };
    let mut dec = Decoder::default();
    let mut rd = f.reader();
    let mut dirs: HashMap<(String, u16, String, u16), Dir> = HashMap::new();
    let mut first_of_link: HashSet<u32> = HashSet::new();
    let mut n = 0;
    while let Some(Ok(p)) = rd.next_packet() {
        n += 1;
        if n > 20_000 {
            break;
        }
        if let Some(i) = LINKS.iter().position(|&l| l == p.link.0) {
            // A few records per file and link type: [link selector][len][record].
            if first_of_link.len() < 64 && first_of_link.insert(fnv(p.data) as u32) {
                let mut s = vec![i as u8];
                s.extend_from_slice(&(p.data.len().min(65535) as u16).to_le_bytes());
                s.extend_from_slice(p.data);
                out.put("decode", &s);
            }
        } else if p.link != LinkType::ETHERNET {
            eprintln!(
                "note: link type {} not in the decode target's table",
                p.link.0
            );
        }
        let Ok(d) = dec.decode(&p) else { continue };
        match d.transport {
            Transport::Udp { src_port, dst_port } => {
                if (src_port == 53 || dst_port == 53 || src_port == 5353) && !d.payload.is_empty() {
                    out.put("dns", d.payload);
                }
                // QUIC mode 0: client datagrams (to 443/80), one per seed, length-prefixed.
                if (dst_port == 443 || dst_port == 80)
                    && egressmap::proto::quic::looks_like_quic(d.payload)
                {
                    let mut s = vec![0u8];
                    s.extend_from_slice(&(d.payload.len().min(65535) as u16).to_le_bytes());
                    s.extend_from_slice(d.payload);
                    out.put("quic", &s);
                }
            }
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                flags,
                ..
            } => {
                let k = (d.src.to_string(), src_port, d.dst.to_string(), dst_port);
                let e = dirs.entry(k).or_default();
                let r = e.r.get_or_insert_with(|| Reassembler::new(16 * 1024));
                if flags & 0x02 != 0 {
                    r.set_isn(seq);
                }
                if !d.payload.is_empty() {
                    r.insert(seq, d.payload);
                    if e.segs.len() < 32 {
                        e.segs.push((seq, d.payload.to_vec()));
                    }
                }
            }
            _ => {}
        }
    }
    for ((_, sp, _, dp), e) in dirs {
        let Some(r) = e.r else { continue };
        let s = r.contiguous();
        if s.is_empty() {
            continue;
        }
        if s.first() == Some(&0x16) {
            out.put("tls", s);
            // The bare handshake message too (parse_client_hello_message's input).
            if let Some(m) = s.get(5..) {
                out.put("tls", m);
                // QUIC mode 1: the handshake message as one CRYPTO frame, then as two frames
                // out of order in two packets.
                let len = m.len().min(4000);
                let m = &m[..len];
                let crypto = |off: usize, d: &[u8]| {
                    let mut f = vec![0x06, 0x80, 0, 0, 0, 0x80, 0, 0, 0];
                    f[1..5].copy_from_slice(&(off as u32 | 0x8000_0000).to_be_bytes());
                    f[5..9].copy_from_slice(&(d.len() as u32 | 0x8000_0000).to_be_bytes());
                    f.extend_from_slice(d);
                    f
                };
                let mut one = vec![1u8, 0];
                let f = crypto(0, m);
                one.extend_from_slice(&(f.len() as u16).to_le_bytes());
                one.extend_from_slice(&f);
                out.put("quic", &one);
                let (a, b) = m.split_at(len / 2);
                let mut two = vec![1u8, 1];
                for f in [crypto(len / 2, b), crypto(0, a)] {
                    two.extend_from_slice(&(f.len() as u16).to_le_bytes());
                    two.extend_from_slice(&f);
                }
                out.put("quic", &two);
            }
        } else if egressmap::proto::http::probe(s) {
            out.put("http", s);
        } else if sp == 53 || dp == 53 {
            out.put("dns", s);
        }
        // Reassembly seed: header (cap, fixed-base mode, isn) then segments by delta.
        if let Some(&(isn_seq, _)) = e.segs.first() {
            let isn = isn_seq.wrapping_sub(1);
            let mut seed = vec![0x00, 0x10, 1];
            seed.extend_from_slice(&isn.to_le_bytes());
            for (seq, data) in e.segs.iter().rev() {
                let delta = seq.wrapping_sub(isn_seq) as i32;
                let Ok(delta) = i16::try_from(delta) else {
                    continue;
                };
                for chunk in data.chunks(255).take(4) {
                    seed.extend_from_slice(&delta.to_le_bytes());
                    seed.push(chunk.len() as u8);
                    seed.extend_from_slice(chunk);
                }
            }
            out.put("reassembly", &seed);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(args.get(1).map(String::as_str).unwrap_or("corpus"));
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = std::env::var_os("EGRESSMAP_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // ../shared beside the project; a worktree under wt/ has it one level further up.
            let near = project.join("../shared/corpus");
            if near.is_dir() {
                near
            } else {
                project.join("../../shared/corpus")
            }
        });
    let mut out = Out {
        root,
        seen: HashSet::new(),
        counts: HashMap::new(),
    };
    for p in captures(&[project.join("fixtures"), shared.join("pcaps")]) {
        from_capture(&p, &mut out);
    }
    // Signature sources: the published pages (importer) and the shipped JSONL (loader).
    let msdocs = shared.join("../msdocs");
    for dir in [
        msdocs.clone(),
        msdocs.join("historical"),
        shared.join("../seeds"),
    ] {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            if let Ok(t) = fs::read(e.path()) {
                out.put("import", &t);
            }
        }
    }
    let sigs = project.join("signatures");
    let areas = fs::read(sigs.join("areas.json")).unwrap_or_default();
    for e in fs::read_dir(&sigs).into_iter().flatten().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "jsonl") {
            let t = fs::read_to_string(&p).unwrap_or_default();
            for chunk in t.lines().collect::<Vec<_>>().chunks(20).take(5) {
                let mut s = chunk.join("\n").into_bytes();
                out.put("sigload", &s);
                s.push(0xff);
                s.extend_from_slice(&areas);
                out.put("sigload", &s);
            }
        }
    }
    let mut c: Vec<_> = out.counts.into_iter().collect();
    c.sort();
    for (t, n) in c {
        println!("{t:12} {n} seeds");
    }
}
