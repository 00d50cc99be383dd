//! Turning task examples into padded classification batches: `[CLS] a [SEP]` or
//! `[CLS] a [SEP] b [SEP]`, the longer text truncated first, padded to the longest row.

use super::TaskExample;
use crate::error::{DataError, Result};
use crate::tokenizer::TextTokenizer;

/// A classification batch, row-major `[batch_size, seq_len]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassBatch {
    /// Token ids, `[PAD]` after the end of each row.
    pub input_ids: Vec<u32>,
    /// 0 for `[CLS]`, text_a and its `[SEP]`; 1 for text_b and its `[SEP]`; 0 for padding.
    pub token_type_ids: Vec<u32>,
    /// `true` for real tokens.
    pub attention_mask: Vec<bool>,
    /// Class per row.
    pub labels: Vec<i64>,
    /// Column of the first piece of the marked word per row (`span`), or -1.
    pub marked: Vec<i64>,
    /// Rows.
    pub batch_size: usize,
    /// Columns (the longest row).
    pub seq_len: usize,
}

/// Ids and byte offsets of a text's pieces.
type Pieces = (Vec<u32>, Vec<(usize, usize)>);

fn pieces(tok: &TextTokenizer, text: &str) -> Result<Pieces> {
    let enc = tok
        .inner()
        .encode(text, false)
        .map_err(|e| DataError::Tokenizer {
            path: tok.path().to_path_buf(),
            message: e.to_string(),
        })?;
    Ok((enc.get_ids().to_vec(), enc.get_offsets().to_vec()))
}

/// Encodes `examples` with `tok`, rows at most `max_len` tokens.
pub fn encode_examples(
    tok: &TextTokenizer,
    examples: &[TaskExample],
    max_len: usize,
) -> Result<ClassBatch> {
    if max_len < 8 {
        return Err(DataError::config("max_len", "use at least 8"));
    }
    let sp = tok.special();
    // (ids, type ids, marked column) per row
    type Row = (Vec<u32>, Vec<u32>, i64);
    let mut rows: Vec<Row> = Vec::with_capacity(examples.len());
    for e in examples {
        let (mut a, offsets) = pieces(tok, &e.text_a)?;
        let mut b = match &e.text_b {
            Some(t) => Some(pieces(tok, t)?.0),
            None => None,
        };
        let budget = max_len - 2 - usize::from(b.is_some());
        while a.len() + b.as_ref().map_or(0, Vec::len) > budget {
            match &mut b {
                Some(b) if b.len() > a.len() => {
                    b.pop();
                }
                _ => {
                    a.pop();
                }
            }
        }
        let marked = e
            .span
            .and_then(|(s, t)| {
                offsets[..a.len()]
                    .iter()
                    .position(|(x, y)| *x < t && *y > s)
            })
            .map_or(-1, |i| i as i64 + 1);
        let mut ids = vec![sp.cls];
        ids.extend(&a);
        ids.push(sp.sep);
        let mut types = vec![0; ids.len()];
        if let Some(b) = b {
            ids.extend(&b);
            ids.push(sp.sep);
            types.resize(ids.len(), 1);
        }
        rows.push((ids, types, marked));
    }
    let seq_len = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let n = rows.len() * seq_len;
    let mut batch = ClassBatch {
        input_ids: vec![sp.pad; n],
        token_type_ids: vec![0; n],
        attention_mask: vec![false; n],
        labels: examples.iter().map(|e| e.label as i64).collect(),
        marked: Vec::with_capacity(rows.len()),
        batch_size: rows.len(),
        seq_len,
    };
    for (r, (ids, types, marked)) in rows.into_iter().enumerate() {
        let at = r * seq_len;
        batch.input_ids[at..at + ids.len()].copy_from_slice(&ids);
        batch.token_type_ids[at..at + ids.len()].copy_from_slice(&types);
        batch.attention_mask[at..at + ids.len()].fill(true);
        batch.marked.push(marked);
    }
    Ok(batch)
}
