//! The compute device, chosen on the command line: `cpu` (the flex backend) or `cuda[:N]`.

use std::fmt;
use std::str::FromStr;

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The flex CPU backend (threaded, SIMD).
    #[default]
    Cpu,
    /// CUDA device N (builds with `--features cuda`).
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;

    /// The names of a spec's `device` (`cpu`, `cuda`, `cuda:N`), parsed by [`ablate_train::DeviceSpec`].
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<ablate_train::DeviceSpec>().map(Self::from)
    }
}

impl From<ablate_train::DeviceSpec> for DeviceChoice {
    fn from(d: ablate_train::DeviceSpec) -> Self {
        match d {
            ablate_train::DeviceSpec::Cpu => Self::Cpu,
            ablate_train::DeviceSpec::Cuda(n) => Self::Cuda(n),
        }
    }
}

impl From<DeviceChoice> for ablate_train::DeviceSpec {
    fn from(d: DeviceChoice) -> Self {
        match d {
            DeviceChoice::Cpu => Self::Cpu,
            DeviceChoice::Cuda(n) => Self::Cuda(n),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// Calls `$body` with `$B` bound to the backend type and `$dev` to the device of `$choice`.
#[macro_export]
macro_rules! with_backend {
    ($choice:expr, |$B:ident, $dev:ident| $body:expr) => {{
        match $choice {
            $crate::device::DeviceChoice::Cpu => {
                type $B = burn::backend::Flex;
                let $dev = Default::default();
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::device::DeviceChoice::Cuda(n) => {
                type $B = burn::backend::Cuda;
                let $dev = burn::backend::cuda::CudaDevice::new(n);
                $body
            }
            #[cfg(not(feature = "cuda"))]
            $crate::device::DeviceChoice::Cuda(_) => Err(anyhow::anyhow!(
                "this ablate was built without CUDA; rebuild with `cargo build --release --features cuda`"
            )),
        }
    }};
}
