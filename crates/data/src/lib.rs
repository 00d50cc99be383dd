//! Corpus, tokenizer, token shards and MLM batches (to come).
