//! TensorBoard event files beside `metrics.csv`: every row a run logs is also written as scalars, so
//! `tensorboard --logdir results/NAME` shows a whole sweep, one curve per run folder.
//!
//! The format is TensorFlow's record file of `Event` protobufs: each record is its length (u64, little
//! endian), the masked CRC-32C of the length, the bytes, and their masked CRC-32C. The messages are encoded
//! with prost from the field numbers of TensorFlow's `event.proto` and `summary.proto`. Each process writes its
//! own file (`events.out.tfevents.<unix seconds>.<host>.<pid>.<n>`), starting with a `SessionLog START` at the
//! first step it takes: after a resume, TensorBoard then drops the older file's points from that step on
//! (they were computed after the checkpoint the run resumed from).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use prost::Message;

/// TensorFlow's `Event` (the fields the lab writes).
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    /// Seconds since the epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The training step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "What", tags = "3, 5, 7")]
    pub what: Option<What>,
}

/// The payload of an [`Event`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// `brain.Event:2`, the first event of a file.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Scalars.
    #[prost(message, tag = "5")]
    Summary(Summary),
    /// A session start (after a resume).
    #[prost(message, tag = "7")]
    SessionLog(SessionLog),
}

/// TensorFlow's `Summary`: a list of tagged values.
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// TensorFlow's `Summary.Value` with a `simple_value`.
#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    /// The curve's name, such as `train/loss`.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The value.
    #[prost(float, tag = "2")]
    pub simple_value: f32,
}

/// TensorFlow's `SessionLog`.
#[derive(Clone, PartialEq, Message)]
pub struct SessionLog {
    /// 1 = START.
    #[prost(int32, tag = "1")]
    pub status: i32,
}

/// `SessionLog.START`.
pub const SESSION_START: i32 = 1;

/// The masked CRC-32C of TensorFlow's record format.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One record: length, its masked CRC, the bytes, their masked CRC.
pub fn record(bytes: &[u8]) -> Vec<u8> {
    let len = (bytes.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(&masked_crc(bytes).to_le_bytes());
    out
}

/// The records of an event file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Records {
    /// Each record's bytes, both CRCs checked.
    pub records: Vec<Vec<u8>>,
    /// Whether the file ends in a partly written record (a process killed mid-write; TensorBoard, too,
    /// reads up to it).
    pub truncated_tail: bool,
}

/// Reads every record of an event file, checking both CRCs of each; a CRC mismatch or a length past the end
/// is an error that names the file and offset. A partly written last record is reported, not an error.
pub fn read_records(path: &Path) -> Result<Records, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Records::default();
    let mut at = 0usize;
    let bad = |at: usize, what: &str| format!("{}: {what} at byte {at}", path.display());
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + 12) else {
            out.truncated_tail = true;
            break;
        };
        let (len_bytes, len_crc) = head.split_at(8);
        if masked_crc(len_bytes).to_le_bytes() != len_crc {
            return Err(bad(at, "length CRC mismatch"));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(at + 16));
        let Some(end) = end.filter(|&e| e <= bytes.len()) else {
            out.truncated_tail = true;
            break;
        };
        let body = &bytes[at + 12..end - 4];
        if masked_crc(body).to_le_bytes() != bytes[end - 4..end] {
            return Err(bad(at, "data CRC mismatch"));
        }
        out.records.push(body.to_vec());
        at = end;
    }
    Ok(out)
}

/// The events of an event file ([`read_records`], each decoded).
pub fn read_events(path: &Path) -> Result<(Vec<Event>, bool), String> {
    let r = read_records(path)?;
    let events = r
        .records
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Event::decode(b.as_slice())
                .map_err(|e| format!("{}: record {i} is not an Event: {e}", path.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((events, r.truncated_tail))
}

/// The curves TensorBoard shows for the event files in `dir`: read in the order they were started, a session
/// start at step s drops the points at s and after, and a later point replaces an earlier one of the same
/// step. Tag -> step -> value.
pub fn curves(
    dir: &Path,
) -> Result<std::collections::BTreeMap<String, std::collections::BTreeMap<i64, f32>>, String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."))
        {
            let (events, _) = read_events(&path)?;
            let started = events.first().map_or(0.0, |e| e.wall_time);
            files.push((started, events));
        }
    }
    files.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<i64, f32>> =
        Default::default();
    for event in files.into_iter().flat_map(|(_, e)| e) {
        match event.what {
            Some(What::SessionLog(s)) if s.status == SESSION_START => {
                for curve in out.values_mut() {
                    curve.retain(|&step, _| step < event.step);
                }
            }
            Some(What::Summary(s)) => {
                for v in s.value {
                    out.entry(v.tag)
                        .or_default()
                        .insert(event.step, v.simple_value);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// An open event file.
pub struct EventFile {
    path: PathBuf,
    writer: BufWriter<File>,
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl EventFile {
    /// Creates this process's event file in `dir`, with the file version and a session start at the first
    /// step this process takes: the step after `resumed_at` (the checkpoint's step), or step 0 for a run that
    /// starts afresh (which drops whatever an earlier attempt without a checkpoint logged).
    pub fn create(dir: &Path, resumed_at: Option<u64>) -> std::io::Result<Self> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        static OPENED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let nth = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!(
            "events.out.tfevents.{}.{host}.{}.{nth}",
            now() as u64,
            std::process::id()
        );
        let path = dir.join(name);
        let mut file = Self {
            writer: BufWriter::new(File::create(&path)?),
            path,
        };
        file.write(0, What::FileVersion("brain.Event:2".into()))?;
        let first_step = resumed_at.map_or(0, |s| s as i64 + 1);
        file.write(
            first_step,
            What::SessionLog(SessionLog {
                status: SESSION_START,
            }),
        )?;
        file.writer.flush()?;
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, step: i64, what: What) -> std::io::Result<()> {
        let event = Event {
            wall_time: now(),
            step,
            what: Some(what),
        };
        self.writer.write_all(&record(&event.encode_to_vec()))
    }

    /// Writes the scalars `(tag, value)` of `step` and flushes them.
    pub fn scalars(&mut self, step: u64, values: &[(String, f64)]) -> std::io::Result<()> {
        let value = values
            .iter()
            .map(|(tag, v)| SummaryValue {
                tag: tag.clone(),
                simple_value: *v as f32,
            })
            .collect();
        self.write(step as i64, What::Summary(Summary { value }))?;
        self.writer.flush()
    }
}

/// The scalars of a `metrics.csv` row: every numeric field but `step` and `elapsed_s`, tagged by the row's
/// kind: `train/<field>` for train rows; for evaluations `valid/<x>` from `eval_<x>` or `valid_<x>`, and
/// `test/<x>` from `test_<x>`.
pub fn row_scalars(row: &serde_json::Value) -> Vec<(String, f64)> {
    let Some(map) = row.as_object() else {
        return Vec::new();
    };
    let train = map.get("kind").and_then(|k| k.as_str()) == Some("train");
    map.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "kind" | "step" | "elapsed_s"))
        .filter_map(|(k, v)| Some((k, v.as_f64()?)))
        .map(|(k, v)| (scalar_tag(train, k), v))
        .collect()
}

/// The TensorBoard tag of `metrics.csv` column `column` in a train row (`train`) or an evaluation row:
/// `train/<column>`; for evaluations `valid/<x>` from `eval_<x>` or `valid_<x>`, `test/<x>` from `test_<x>`,
/// else `eval/<column>`.
pub fn scalar_tag(train: bool, column: &str) -> String {
    if train {
        format!("train/{column}")
    } else if let Some(x) = column
        .strip_prefix("eval_")
        .or(column.strip_prefix("valid_"))
    {
        format!("valid/{x}")
    } else if let Some(x) = column.strip_prefix("test_") {
        format!("test/{x}")
    } else {
        format!("eval/{column}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_crc_matches_tensorflow() {
        // TensorFlow's record of an empty payload: crc32c("") = 0, masked = 0xa282ead8.
        assert_eq!(masked_crc(b""), 0xa282_ead8);
        // crc32c("123456789") = 0xe3069283 (the CRC-32C check value); masked by rotating 15 and adding.
        assert_eq!(
            masked_crc(b"123456789"),
            0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn records_round_trip_and_corruption_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = EventFile::create(dir.path(), Some(40)).unwrap();
        f.scalars(50, &[("train/loss".into(), 2.5), ("train/lr".into(), 1e-3)])
            .unwrap();
        let path = f.path().to_path_buf();
        drop(f);
        let (events, truncated) = read_events(&path).unwrap();
        assert!(!truncated);
        assert_eq!(events.len(), 3);
        assert_eq!(
            events[0].what,
            Some(What::FileVersion("brain.Event:2".into()))
        );
        assert_eq!(
            (events[1].step, &events[1].what),
            (41, &Some(What::SessionLog(SessionLog { status: 1 })))
        );
        let Some(What::Summary(s)) = &events[2].what else {
            panic!("{:?}", events[2]);
        };
        assert_eq!(events[2].step, 50);
        assert_eq!(s.value[0].tag, "train/loss");
        assert_eq!(s.value[0].simple_value, 2.5);
        let bytes = std::fs::read(&path).unwrap();
        // A partly written last record: the others still read.
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let r = read_records(&path).unwrap();
        assert!(r.truncated_tail);
        assert_eq!(r.records.len(), 2);
        // A flipped bit: named.
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 6] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        let e = read_records(&path).unwrap_err();
        assert!(e.contains("data CRC mismatch"), "{e}");
        let mut flipped = bytes;
        flipped[3] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        let e = read_records(&path).unwrap_err();
        assert!(e.contains("length CRC mismatch at byte 0"), "{e}");
    }

    #[test]
    fn a_session_start_drops_the_points_from_its_step_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = EventFile::create(dir.path(), None).unwrap();
        for step in [10, 20, 30] {
            first
                .scalars(step, &[("train/loss".into(), step as f64)])
                .unwrap();
        }
        drop(first);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let mut second = EventFile::create(dir.path(), Some(20)).unwrap();
        second.scalars(30, &[("train/loss".into(), 31.0)]).unwrap();
        drop(second);
        let c = curves(dir.path()).unwrap();
        let loss: Vec<(i64, f32)> = c["train/loss"].iter().map(|(s, v)| (*s, *v)).collect();
        assert_eq!(loss, [(10, 10.0), (20, 20.0), (30, 31.0)]);
    }

    #[test]
    fn rows_become_tagged_scalars() {
        let train = serde_json::json!({"kind": "train", "step": 10, "lr": 0.001, "loss": 5.0,
            "grad_norm": 1.0, "tokens_per_s": 900.0, "elapsed_s": 3.0, "eval_loss": null});
        let tags = |row| {
            let mut t: Vec<String> = row_scalars(row).into_iter().map(|(t, _)| t).collect();
            t.sort();
            t
        };
        assert_eq!(
            tags(&train),
            [
                "train/grad_norm",
                "train/loss",
                "train/lr",
                "train/tokens_per_s"
            ]
        );
        let eval = serde_json::json!({"kind": "eval", "step": 10, "elapsed_s": 3.0,
            "eval_loss": 4.0, "eval_accuracy": 0.2, "test_f1": 0.5, "valid_accuracy": 0.7});
        assert_eq!(
            tags(&eval),
            ["test/f1", "valid/accuracy", "valid/accuracy", "valid/loss"]
        );
    }
}
