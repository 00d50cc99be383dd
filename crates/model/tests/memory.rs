//! No `[N, N, d]` tensor anywhere: a counting allocator records the peak heap use of one forward + backward
//! pass per relative scheme at N = 512, d_head = 64, one head. An `[N, N, d]` float tensor alone would take
//! 64 MiB; the efficient paths stay far below it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ablate_model::position::{
    DisentangledConfig, PosAttType, PositionScheme, ShawConfig, XlConfig,
};
use ablate_model::{EncoderInput, MaskedPositions, MlmDecoder, MlmModel, ModelConfig};
use burn::tensor::{Distribution, Int, Tensor};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

type AD = burn::backend::Autodiff<burn::backend::Flex>;
const N: usize = 512;
const D: usize = 64;

fn peak_mib(position: PositionScheme, decoder: MlmDecoder) -> f64 {
    let dev = Default::default();
    let cfg = ModelConfig {
        vocab_size: 64,
        hidden_size: D,
        num_hidden_layers: 1,
        num_attention_heads: 1,
        intermediate_size: 64,
        max_position_embeddings: N,
        hidden_dropout_prob: 0.0,
        attention_probs_dropout_prob: 0.0,
        position,
        decoder,
        ..ModelConfig::default()
    };
    let model = MlmModel::<AD>::new(&cfg, &dev).unwrap();
    let ids = Tensor::<AD, 2, Int>::random([1, N], Distribution::Uniform(1.0, 63.0), &dev);
    let masked = MaskedPositions::new(vec![(0..N).step_by(7).collect()]).unwrap();
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = model.forward(&EncoderInput::unmasked(ids), &masked, false);
    let grads = out.logits.sum().backward();
    drop(grads);
    (PEAK.load(Ordering::SeqCst) - base) as f64 / (1024.0 * 1024.0)
}

#[test]
fn relative_schemes_never_build_n_by_n_by_d() {
    let nnd_mib = (N * N * D * 4) as f64 / (1024.0 * 1024.0);
    let deberta = PositionScheme::Deberta(DisentangledConfig {
        pos_att_type: vec![PosAttType::C2p, PosAttType::P2c, PosAttType::P2p],
        max_relative_positions: 128,
        ..DisentangledConfig::default()
    });
    let cases = [
        ("deberta c2p+p2c+p2p, EMD", deberta.clone(), MlmDecoder::Emd),
        ("deberta c2p+p2c+p2p", deberta, MlmDecoder::Plain),
        (
            "shaw with values",
            PositionScheme::Shaw(ShawConfig::default()),
            MlmDecoder::Plain,
        ),
        (
            "xl",
            PositionScheme::Xl(XlConfig::default()),
            MlmDecoder::Plain,
        ),
    ];
    for (name, position, decoder) in cases {
        let peak = peak_mib(position, decoder);
        eprintln!("{name}: peak {peak:.1} MiB (an N x N x d tensor: {nnd_mib:.0} MiB)");
        assert!(peak < nnd_mib / 2.0, "{name}: peak {peak:.1} MiB");
    }
}
