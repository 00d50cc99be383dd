//! Checksums of a checkpoint's files: `checksums.json` in each checkpoint folder gives every other file's
//! size and XXH3-128 hash, written before the folder becomes current and checked on every load, so a truncated
//! or bit-flipped checkpoint is caught and named instead of silently read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::error::{IoContext, Result, TrainError};
use crate::fsutil::{read_json, write_json};

/// The checksum file inside a checkpoint folder.
pub const CHECKSUMS_FILE: &str = "checksums.json";

/// One file's size and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// Size in bytes.
    pub bytes: u64,
    /// XXH3-128 of the contents, 32 hex digits.
    pub xxh3_128: String,
}

/// Size and hash of the file at `path`, read in blocks.
pub fn sum_file(path: &Path) -> Result<FileSum> {
    let mut f = std::fs::File::open(path).at(path)?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileSum {
        bytes,
        xxh3_128: format!("{:032x}", h.digest128()),
    })
}

/// Writes `dir/checksums.json` over every other file of `dir`.
pub fn write(dir: &Path) -> Result<()> {
    let mut sums = BTreeMap::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_file() && name != CHECKSUMS_FILE {
            sums.insert(name, sum_file(&path)?);
        }
    }
    write_json(&dir.join(CHECKSUMS_FILE), &sums)
}

/// Checks every file `dir/checksums.json` lists; the error names the first file that is missing, has another
/// size, or another hash. A folder without `checksums.json` (written by an older version) passes.
pub fn verify(dir: &Path) -> Result<()> {
    let list = dir.join(CHECKSUMS_FILE);
    if !list.is_file() {
        return Ok(());
    }
    let sums: BTreeMap<String, FileSum> = read_json(&list)?;
    for (name, want) in &sums {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(TrainError::checkpoint(
                &path,
                format!("missing; {CHECKSUMS_FILE} lists it"),
            ));
        }
        let got = sum_file(&path)?;
        if got.bytes != want.bytes {
            return Err(TrainError::checkpoint(
                &path,
                format!(
                    "corrupted: {} bytes, {CHECKSUMS_FILE} says {} (truncated or overwritten)",
                    got.bytes, want.bytes
                ),
            ));
        }
        if got.xxh3_128 != want.xxh3_128 {
            return Err(TrainError::checkpoint(
                &path,
                format!("corrupted: its contents do not match the hash in {CHECKSUMS_FILE}"),
            ));
        }
    }
    Ok(())
}

/// Rewrites the MessagePack file `path` (a burn `.mpk` record) with every map's entries in key order, so equal
/// records give equal bytes: burn writes the optimiser state, a hash map keyed by parameter id, in the map's
/// random iteration order. Readers look entries up by key, so the file reads back the same.
pub fn canonicalise_mpk(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).at(path)?;
    let bad =
        |e: &dyn std::fmt::Display| TrainError::checkpoint(path, format!("not MessagePack: {e}"));
    let mut value = rmpv::decode::read_value(&mut &bytes[..]).map_err(|e| bad(&e))?;
    sort_maps(&mut value);
    let mut out = Vec::with_capacity(bytes.len());
    rmpv::encode::write_value(&mut out, &value).map_err(|e| bad(&e))?;
    crate::fsutil::write_atomic(path, &out)
}

fn sort_maps(v: &mut rmpv::Value) {
    match v {
        rmpv::Value::Map(entries) => {
            for (k, x) in entries.iter_mut() {
                sort_maps(k);
                sort_maps(x);
            }
            entries.sort_by_cached_key(|(k, _)| {
                let mut key = Vec::new();
                let _ = rmpv::encode::write_value(&mut key, k);
                key
            });
        }
        rmpv::Value::Array(items) => items.iter_mut().for_each(sort_maps),
        _ => {}
    }
}
