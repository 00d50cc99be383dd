//! The six Jane Austen novels of Debian's `r-cran-janeaustenr`, read from the package's R lazy-load
//! database (`Rdata.rdb`: records of a 4-byte length and a zlib stream, each an R serialisation of
//! a character vector of text lines). One chapter is one document.

use std::path::Path;

use flate2::{Decompress, FlushDecompress, Status};

use crate::error::{DataError, IoContext, Result};
use crate::profile::CorpusWriter;
use crate::text::normalize_ws;

use super::JANEAUSTENR_RDB;

const STRSXP: u32 = 16;
const LATIN1_LEVEL: u32 = 1 << 2;

struct Xdr<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Xdr<'_> {
    fn int(&mut self) -> Option<i32> {
        let b = self.bytes.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let b = self.bytes.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(b)
    }
}

/// The strings of an R XDR serialisation (`X\n` format 2 or 3) of a character vector; `None` for
/// any other object. NA elements become empty strings.
pub fn parse_character_vector(bytes: &[u8]) -> Option<Vec<String>> {
    if !bytes.starts_with(b"X\n") {
        return None;
    }
    let mut x = Xdr { bytes, pos: 2 };
    let version = x.int()?;
    x.int()?;
    x.int()?;
    if version == 3 {
        let n = x.int()?;
        x.take(usize::try_from(n).ok()?)?;
    }
    let flags = x.int()? as u32;
    if flags & 0xff != STRSXP {
        return None;
    }
    let mut len = x.int()? as i64;
    if len == -1 {
        let (hi, lo) = (x.int()? as i64, x.int()? as u32 as i64);
        len = (hi << 32) | lo;
    }
    let mut out = Vec::with_capacity(len.clamp(0, 1 << 20) as usize);
    for _ in 0..len {
        let f = x.int()? as u32;
        let n = x.int()?;
        if n < 0 {
            out.push(String::new());
            continue;
        }
        let b = x.take(n as usize)?;
        let s = if (f >> 12) & LATIN1_LEVEL != 0 {
            b.iter().map(|&c| c as char).collect()
        } else {
            String::from_utf8_lossy(b).into_owned()
        };
        out.push(s);
    }
    Some(out)
}

/// Every record of an R lazy-load database, decompressed.
pub fn rdb_records(path: &Path, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let Some(head) = bytes.get(pos..pos + 5) else {
            return Err(DataError::format(path, "a truncated record header"));
        };
        let n = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if head[4] != 0x78 {
            return Err(DataError::format(
                path,
                format!("record at byte {pos} is not zlib-compressed (only zlib is read)"),
            ));
        }
        let mut z = Decompress::new(true);
        let mut data = Vec::with_capacity(n);
        let status = z
            .decompress_vec(&bytes[pos + 4..], &mut data, FlushDecompress::Finish)
            .map_err(|e| DataError::format(path, format!("record at byte {pos}: {e}")))?;
        if status != Status::StreamEnd || data.len() != n {
            return Err(DataError::format(
                path,
                format!("record at byte {pos} does not inflate to its stated {n} bytes"),
            ));
        }
        pos += 4 + z.total_in() as usize;
        out.push(data);
    }
    Ok(out)
}

fn is_heading(line: &str) -> bool {
    let t = line.trim();
    let mut words = t.split_whitespace();
    let first = words.next().unwrap_or("").to_ascii_uppercase();
    let rest: Vec<&str> = words.collect();
    (first == "CHAPTER" || first == "VOLUME") && rest.len() <= 2
}

/// Chapters (documents) of paragraphs from a novel's text lines: paragraphs are runs of
/// non-blank lines, and `CHAPTER`/`VOLUME` headings start a new document.
pub fn chapters(lines: &[String]) -> Vec<Vec<String>> {
    let mut docs = vec![Vec::new()];
    let mut para = String::new();
    let flush = |para: &mut String, doc: &mut Vec<String>| {
        let p = normalize_ws(para);
        if !p.is_empty() {
            doc.push(p);
        }
        para.clear();
    };
    for line in lines {
        if is_heading(line) {
            flush(&mut para, docs.last_mut().expect("non-empty"));
            docs.push(Vec::new());
        } else if line.trim().is_empty() {
            flush(&mut para, docs.last_mut().expect("non-empty"));
        } else {
            para.push(' ');
            para.push_str(line);
        }
    }
    flush(&mut para, docs.last_mut().expect("non-empty"));
    docs.retain(|d| !d.is_empty());
    docs
}

/// Reads the six novels.
pub fn read(w: &mut CorpusWriter) -> Result<()> {
    let path = Path::new(JANEAUSTENR_RDB);
    let bytes = std::fs::read(path).at(path)?;
    for record in rdb_records(path, &bytes)? {
        if let Some(lines) = parse_character_vector(&record) {
            for doc in chapters(&lines) {
                w.document(doc)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn serialise(strings: &[&str]) -> Vec<u8> {
        let mut b = b"X\n".to_vec();
        for v in [3i32, 262_657, 197_888, 5] {
            b.extend(v.to_be_bytes());
        }
        b.extend(b"UTF-8");
        b.extend((STRSXP as i32).to_be_bytes());
        b.extend((strings.len() as i32).to_be_bytes());
        for s in strings {
            b.extend(((1i32 << 15) | 9).to_be_bytes());
            b.extend((s.len() as i32).to_be_bytes());
            b.extend(s.as_bytes());
        }
        b
    }

    fn record(payload: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(payload).unwrap();
        let mut out = (payload.len() as u32).to_be_bytes().to_vec();
        out.extend(z.finish().unwrap());
        out
    }

    #[test]
    fn rdb_character_vectors_are_read() {
        let lines = [
            "EMMA",
            "",
            "CHAPTER I",
            "",
            "Emma Woodhouse, handsome,",
            "clever, and rich.",
            "",
            "CHAPTER II",
            "Next.",
        ];
        let mut rdb = record(&serialise(&lines));
        rdb.extend(record(&serialise(&["second"])));
        let recs = rdb_records(Path::new("x.rdb"), &rdb).unwrap();
        assert_eq!(recs.len(), 2);
        let v = parse_character_vector(&recs[0]).unwrap();
        assert_eq!(v, lines);
        assert_eq!(
            chapters(&v),
            vec![
                vec!["EMMA".to_string()],
                vec!["Emma Woodhouse, handsome, clever, and rich.".to_string()],
                vec!["Next.".to_string()],
            ]
        );
        assert!(parse_character_vector(b"not R").is_none());
    }

    #[test]
    fn damaged_records_are_errors() {
        let mut rdb = record(&serialise(&["a"]));
        rdb.truncate(rdb.len() - 3);
        assert!(rdb_records(Path::new("x.rdb"), &rdb).is_err());
    }
}
