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

#[cfg(feature = "cuda")]
/// Where the dynamic loader finds libraries without a path: `LD_LIBRARY_PATH`, then the usual system folders.
fn library_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    for d in [
        "/lib",
        "/usr/lib",
        "/lib64",
        "/usr/lib64",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/local/cuda/lib64",
        "/usr/lib/wsl/lib",
    ] {
        dirs.push(d.into());
    }
    dirs
}

#[cfg(feature = "cuda")]
/// Whether the CUDA driver library (`libcuda.so`, installed with the NVIDIA driver) can be found: in the
/// loader's cache or one of [`library_dirs`]. Without it the CUDA backend would abort the process from a
/// worker thread, so `--device cuda` is refused up front with this message instead.
pub fn cuda_driver_present() -> anyhow::Result<()> {
    let cached = std::fs::read("/etc/ld.so.cache")
        .map(|b| b.windows(9).any(|w| w == b"libcuda.s"))
        .unwrap_or(false);
    let on_disk = library_dirs()
        .iter()
        .any(|d| d.join("libcuda.so.1").exists() || d.join("libcuda.so").exists());
    if cached || on_disk {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "--device cuda: the CUDA driver library libcuda.so.1 was not found (searched /etc/ld.so.cache, \
             LD_LIBRARY_PATH and the system library folders); install the NVIDIA driver, add the folder that \
             holds libcuda.so.1 to LD_LIBRARY_PATH, or run with --device cpu"
        ))
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
            $crate::device::DeviceChoice::Cuda(n) => match $crate::device::cuda_driver_present() {
                Err(e) => Err(e),
                Ok(()) => {
                    type $B = burn::backend::Cuda;
                    let $dev = burn::backend::cuda::CudaDevice::new(n);
                    $body
                }
            },
            #[cfg(not(feature = "cuda"))]
            $crate::device::DeviceChoice::Cuda(_) => Err(anyhow::anyhow!(
                "this ablate was built without CUDA; rebuild with `cargo build --release --features cuda`"
            )),
        }
    }};
}
