//! Length-extrapolation sets: the held-out token streams packed into rows of exactly L tokens
//! (`[CLS]` + L-2 ids + `[SEP]`), written as JSON lines `{"input_ids": [...]}` for MLM evaluation.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::batcher::PackedSequences;
use crate::error::{DataError, IoContext, Result};
use crate::reader::{ReadMode, ShardSet};
use crate::split::Split;

/// Size of one length-extrapolation file.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct LenextSplit {
    /// Rows.
    pub sequences: u64,
    /// Ids in all rows.
    pub tokens: u64,
}

/// What was written for one length.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LenextReport {
    /// Folder name, `lenext_<L>`.
    pub name: String,
    /// Row length L.
    pub max_len: usize,
    /// `valid` (from the corpus valid split) and `test` (from the corpus test split).
    pub splits: BTreeMap<String, LenextSplit>,
}

#[derive(Serialize, Deserialize)]
struct Row {
    input_ids: Vec<u32>,
}

/// Writes `dir/lenext_<max_len>/{valid,test}.jsonl` from the held-out streams of `shards`.
pub fn write(shards: &ShardSet, dir: &Path, max_len: usize) -> Result<LenextReport> {
    let name = format!("lenext_{max_len}");
    let folder = dir.join(&name);
    std::fs::create_dir_all(&folder).at(&folder)?;
    let mut splits = BTreeMap::new();
    for split in [Split::Valid, Split::Test] {
        let seqs = PackedSequences::open(shards, split, max_len, ReadMode::Pread)?;
        let path = folder.join(format!("{split}.jsonl"));
        let mut row = vec![0u32; max_len];
        atomic::write_file(&path, |w| {
            for s in 0..seqs.len() {
                seqs.fill(s, &mut row)?;
                let line = serde_json::to_string(&Row {
                    input_ids: row.clone(),
                })
                .map_err(|source| DataError::Json {
                    path: path.clone(),
                    source,
                })?;
                w.write_all(line.as_bytes()).at(&path)?;
                w.write_all(b"\n").at(&path)?;
            }
            Ok(())
        })?;
        splits.insert(
            split.to_string(),
            LenextSplit {
                sequences: seqs.len(),
                tokens: seqs.len() * max_len as u64,
            },
        );
    }
    Ok(LenextReport {
        name,
        max_len,
        splits,
    })
}

/// Reads a length-extrapolation file: one row of ids per line.
pub fn read_sequences(path: &Path) -> Result<Vec<Vec<u32>>> {
    let reader = BufReader::new(File::open(path).at(path)?);
    let mut out = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.at(path)?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(&line)
            .map_err(|e| DataError::format(path, format!("line {}: {e}", n + 1)))?;
        out.push(row.input_ids);
    }
    Ok(out)
}
