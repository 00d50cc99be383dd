//! Pre-training and fine-tuning loops (to come).
