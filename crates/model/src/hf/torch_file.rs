//! Checks a `pytorch_model.bin` before burn-store reads it, so that no size field in the file can make the
//! reader ask for more memory than the file could hold.
//!
//! burn-store's pickle reader allocates the lengths it reads (`BINUNICODE`, `BINBYTES` and kin) before it
//! knows whether the file holds that many bytes. This check walks the file first, with every length bounded
//! by the file's size:
//! - only the zip format is accepted (what `torch.save` writes since PyTorch 1.6, and what HF checkpoints
//!   use); the older sequential-pickle and tar formats are refused with a way out (re-save, or convert to
//!   `model.safetensors`), as is a zip whose entries declare more bytes than the file has;
//! - the pickle (`data.pkl`) is walked opcode by opcode: each length must fit in the bytes left, an unknown
//!   opcode or a missing `STOP` is an error.
//!
//! The tensors' declared shapes are checked against the file's size by the loader, for every weights format
//! (`super::load`), before any tensor's data is read.
//!
//! Nothing is executed: the walk only reads opcodes, and burn-store's reader builds no Python objects.

use std::io::Read;
use std::path::Path;

/// Why a `pytorch_model.bin` was refused before it was read; the caller names the file.
pub type Refusal = String;

/// Checks `path` as described in the module docs.
pub fn check(path: &Path) -> Result<(), Refusal> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let file_len = file
        .metadata()
        .map_err(|e| format!("cannot read its size: {e}"))?
        .len();
    let mut head = [0u8; 263];
    let n = (&file).take(263).read(&mut head).unwrap_or(0);
    let head = &head[..n];
    if !head.starts_with(b"PK\x03\x04") {
        let what = if head.len() == 263 && &head[257..262] == b"ustar" {
            "a tar archive (the format of PyTorch before 0.4)"
        } else if head.starts_with(b"\x80\x02\x8a\x0a") {
            "a sequence of pickles (the format of PyTorch before 1.6)"
        } else {
            "not a zip archive, the format torch.save writes"
        };
        return Err(format!(
            "{what}; the lab reads only the zip format: load it in Python and save it again with torch.save \
             (PyTorch 1.6 or later), or convert it to model.safetensors"
        ));
    }
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut pickle = None;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| format!("zip entry {i}: {e}"))?;
        if entry.size() > file_len || entry.compressed_size() > file_len {
            return Err(format!(
                "zip entry `{}` declares {} bytes ({} stored) in a file of {file_len} bytes; the file is damaged",
                entry.name(),
                entry.size(),
                entry.compressed_size()
            ));
        }
        if entry.name().ends_with("data.pkl") && pickle.is_none() {
            pickle = Some(i);
        }
    }
    let index = pickle.ok_or("no data.pkl in the zip archive; not a file torch.save wrote")?;
    let mut bytes = Vec::new();
    archive
        .by_index(index)
        .map_err(|e| format!("data.pkl: {e}"))?
        .take(file_len)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("data.pkl: {e}"))?;
    walk_pickle(&bytes).map_err(|e| format!("data.pkl: {e}"))
}

/// How an opcode's argument is laid out (pickletools' argument descriptors, reduced to their sizes).
enum Arg {
    /// No argument.
    None,
    /// A fixed number of bytes.
    Fixed(usize),
    /// Text up to a newline (`lines` of them).
    Lines(usize),
    /// A little-endian length of this many bytes, then that many bytes.
    Counted(usize),
}

fn arg(op: u8) -> Option<Arg> {
    use Arg::*;
    Some(match op {
        // Stack, marks, containers, calls, constants and the end.
        b'N' | 0x88 | 0x89 | b']' | b'a' | b'e' | b'l' | b')' | b't' | 0x85 | 0x86 | 0x87
        | b'}' | b'd' | b's' | b'u' | 0x8f | 0x90 | 0x91 | b'0' | b'2' | b'(' | b'1' | 0x94
        | 0x93 | b'R' | b'b' | b'o' | 0x81 | 0x92 | b'.' | b'Q' | 0x97 | 0x98 => None,
        b'K' | b'h' | b'q' | 0x80 | 0x82 => Fixed(1),
        b'M' | 0x83 => Fixed(2),
        b'J' | b'j' | b'r' | 0x84 => Fixed(4),
        b'G' | 0x95 => Fixed(8),
        b'I' | b'L' | b'S' | b'V' | b'F' | b'g' | b'p' | b'P' => Lines(1),
        b'c' | b'i' => Lines(2),
        0x8a | b'U' | b'C' | 0x8c => Counted(1),
        0x8b | b'T' | b'B' | b'X' => Counted(4),
        0x8e | 0x96 | 0x8d => Counted(8),
        _ => return Option::None,
    })
}

/// Walks one pickle to its `STOP`, checking every length against the bytes left.
pub fn walk_pickle(bytes: &[u8]) -> Result<(), Refusal> {
    let mut at = 0usize;
    while let Some(&op) = bytes.get(at) {
        let start = at;
        at += 1;
        let left = bytes.len() - at;
        let skip = match arg(op)
            .ok_or_else(|| format!("unknown opcode 0x{op:02x} at byte {start}"))?
        {
            Arg::None if op == b'.' => return Ok(()),
            Arg::None => 0,
            Arg::Fixed(n) => n,
            Arg::Lines(lines) => {
                let mut end = at;
                for _ in 0..lines {
                    let newline =
                        bytes[end..]
                            .iter()
                            .position(|&b| b == b'\n')
                            .ok_or_else(|| {
                                format!(
                                    "opcode 0x{op:02x} at byte {start}: text without its newline"
                                )
                            })?;
                    end += newline + 1;
                }
                end - at
            }
            Arg::Counted(width) => {
                let field = bytes.get(at..at + width).ok_or_else(|| {
                    format!("opcode 0x{op:02x} at byte {start}: the file ends inside its length")
                })?;
                let len = field
                    .iter()
                    .rev()
                    .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
                // BINSTRING and LONG4 are signed; a negative length is as damaged as a huge one.
                let negative = width == 4 && matches!(op, b'T' | 0x8b) && len & 0x8000_0000 != 0;
                let room = (left - width) as u64;
                if negative || len > room {
                    return Err(format!(
                        "opcode 0x{op:02x} at byte {start} declares {len} bytes, but only {room} follow"
                    ));
                }
                width + len as usize
            }
        };
        if skip > left {
            return Err(format!(
                "opcode 0x{op:02x} at byte {start}: the file ends inside its argument"
            ));
        }
        at += skip;
    }
    Err("the pickle ends without its STOP opcode".into())
}

#[cfg(test)]
mod tests {
    use super::walk_pickle;

    #[test]
    fn a_length_past_the_end_is_refused() {
        // PROTO 2, BINUNICODE of 0x11000000 bytes with 3 present, STOP.
        let bytes = b"\x80\x02X\x00\x00\x00\x11abc.";
        let e = walk_pickle(bytes).unwrap_err();
        assert!(e.contains("declares 285212672 bytes"), "{e}");
    }

    #[test]
    fn a_well_formed_pickle_passes() {
        // {'a': (1, 'bc')} at protocol 2: PROTO, EMPTY_DICT, BINPUT, SHORT_BINUNICODE, BININT1,
        // SHORT_BINUNICODE, TUPLE2, SETITEM, STOP.
        let bytes = b"\x80\x02}q\x00\x8c\x01aK\x01\x8c\x02bc\x86s.";
        walk_pickle(bytes).unwrap();
        // Cut before STOP, and an unknown opcode.
        assert!(
            walk_pickle(&bytes[..bytes.len() - 1])
                .unwrap_err()
                .contains("STOP")
        );
        assert!(walk_pickle(b"\x80\x02\xff.").unwrap_err().contains("0xff"));
    }
}
