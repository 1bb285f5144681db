//! The service side of every measurement: three simulators (one per
//! timing profile) and the echo server, bulk source and sink their
//! sessions forward to.

mod endpoints;

use std::time::Duration;

use ssm_sim::targets::ECHO_HOST;
use ssm_sim::{RealismConfig, SimConfig, Simulator};

pub(crate) use endpoints::{Echo, Sink, Source};

/// Host name sessions use to reach the [`Source`].
pub(crate) const SOURCE_HOST: &str = "source.bench.internal";
/// Host name sessions use to reach the [`Sink`].
pub(crate) const SINK_HOST: &str = "sink.bench.internal";
/// The instance every session targets (agent 3.3.987.0: mux mode,
/// smux keep-alive off with current plugins).
pub(crate) const INSTANCE: &str = "i-0123456789abcdef0";
/// Emulated one-way latency of [`Profile::Delayed`].
pub(crate) const DELAYED_LATENCY: Duration = Duration::from_millis(20);

/// Timing profile of a simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// `RealismConfig::realistic()`: agent output 1024 bytes per 1 ms,
    /// 1000 messages/s gateway limit, 100 ms port-plugin start.
    Realistic,
    /// Realism off: the implementations' own ceiling.
    Unpaced,
    /// Realistic plus 20 ms one-way latency.
    Delayed,
}

impl Profile {
    /// Short label for figure names.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Realistic => "realistic",
            Self::Unpaced => "realism off",
            Self::Delayed => "realistic, 20 ms one-way",
        }
    }

    fn realism(self) -> RealismConfig {
        match self {
            Self::Realistic => RealismConfig::realistic(),
            Self::Unpaced => RealismConfig::default(),
            Self::Delayed => RealismConfig {
                latency: DELAYED_LATENCY,
                ..RealismConfig::realistic()
            },
        }
    }
}

/// Everything on the service side.
#[derive(Debug)]
pub(crate) struct Lab {
    realistic: Simulator,
    unpaced: Simulator,
    delayed: Simulator,
    /// Answers requests; stands in for the simulator's own echo target
    /// (same name, `echo.sim.internal`), whose accept queue of 128
    /// overflows when 200 streams dial it at once. Held so it keeps serving.
    #[expect(dead_code, reason = "held only to keep the listener alive")]
    echo: Echo,
    /// Sends bulk data to whoever connects (downloads).
    pub(crate) source: Source,
    /// Counts what it receives (uploads).
    pub(crate) sink: Sink,
}

impl Lab {
    /// Starts the source, the sink and the simulators.
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let echo = Echo::start()?;
        let source = Source::start()?;
        let sink = Sink::start()?;
        let config = |profile: Profile| {
            let mut config = SimConfig {
                realism: profile.realism(),
                ..SimConfig::default()
            };
            let overrides = &mut config.destinations.host_overrides;
            overrides.insert(ECHO_HOST.into(), echo.addr().to_string());
            overrides.insert(SOURCE_HOST.into(), source.addr().to_string());
            overrides.insert(SINK_HOST.into(), sink.addr().to_string());
            config
        };
        Ok(Self {
            realistic: Simulator::start(config(Profile::Realistic)).await?,
            unpaced: Simulator::start(config(Profile::Unpaced)).await?,
            delayed: Simulator::start(config(Profile::Delayed)).await?,
            echo,
            source,
            sink,
        })
    }

    /// The simulator of a profile.
    pub(crate) fn sim(&self, profile: Profile) -> &Simulator {
        match profile {
            Profile::Realistic => &self.realistic,
            Profile::Unpaced => &self.unpaced,
            Profile::Delayed => &self.delayed,
        }
    }

    /// Ends every session and stops the simulators.
    pub(crate) async fn shutdown(self) {
        self.realistic.shutdown().await;
        self.unpaced.shutdown().await;
        self.delayed.shutdown().await;
    }
}
