package org.clonecast.common.net;

import io.netty.channel.EventLoop;
import java.util.concurrent.TimeUnit;

/**
 * Runs a session's pump on its event loop at most once per wake-up: however many packets or timers
 * ask for it, one run is pending. Used only on that event loop.
 */
public final class LoopPump {
  /** Shorter waits are not worth a timer: the pump just runs again. */
  private static final long MIN_DELAY_NANOS = 50_000L;

  private final EventLoop loop;
  private final Runnable pump;
  private boolean scheduled;

  public LoopPump(EventLoop loop, Runnable pump) {
    this.loop = loop;
    this.pump = pump;
  }

  /** Runs the pump after {@code nanos} (at once if ≤ 0), unless a run is already pending. */
  public void schedule(long nanos) {
    if (scheduled) return;
    scheduled = true;
    if (nanos <= 0) {
      loop.execute(this::run);
    } else {
      loop.schedule(this::run, Math.max(nanos, MIN_DELAY_NANOS), TimeUnit.NANOSECONDS);
    }
  }

  private void run() {
    scheduled = false;
    pump.run();
  }
}
