//! Sphinx HTML documentation (Python, Linux kernel): the text of `<p>` elements that contain no
//! code, one HTML page per document.

use std::path::Path;

use scraper::{Html, Selector};

use crate::error::{DataError, IoContext, Result};
use crate::profile::CorpusWriter;
use crate::text::{looks_like_prose, normalize_ws};

/// The prose paragraphs of one HTML page: `<p>` elements without `<code>`, `<pre>`, `<tt>` or
/// `<kbd>` inside, whitespace normalised, kept if they read as prose.
pub fn prose_paragraphs(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let p = Selector::parse("p").expect("valid selector");
    let code = Selector::parse("code, pre, tt, kbd, span.pre").expect("valid selector");
    doc.select(&p)
        .filter(|el| el.select(&code).next().is_none())
        .map(|el| normalize_ws(&el.text().collect::<String>()))
        .filter(|t| looks_like_prose(t, 5))
        .collect()
}

/// Reads every `.html` page under `root` (sorted; folders named in `skip` left out).
pub fn read_tree(w: &mut CorpusWriter, root: &Path, skip: &[&str]) -> Result<()> {
    let walker = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            !(e.file_type().is_dir() && skip.iter().any(|s| *s == name))
        });
    for entry in walker {
        let entry = entry.map_err(|e| {
            let p = e.path().unwrap_or(root).to_path_buf();
            match e.into_io_error() {
                Some(io) => DataError::io(p, io),
                None => DataError::format(p, "a symbolic link loop"),
            }
        })?;
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|x| x != "html") {
            continue;
        }
        let bytes = std::fs::read(path).at(path)?;
        w.document(prose_paragraphs(&String::from_utf8_lossy(&bytes)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_code_free_paragraphs_are_kept() {
        let html = r#"<html><body>
            <h1>Title</h1>
            <p>The <em>first</em> paragraph has plain prose in it.</p>
            <p>Call <code class="docutils literal"><span class="pre">len()</span></code> on it.</p>
            <div class="highlight"><pre>x = 1</pre></div>
            <p>Entities &amp; line
               breaks are tidied up here.</p>
            <p>Short.</p>
        </body></html>"#;
        assert_eq!(
            prose_paragraphs(html),
            vec![
                "The first paragraph has plain prose in it.",
                "Entities & line breaks are tidied up here."
            ]
        );
    }
}
