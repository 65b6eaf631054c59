package org.clonecast.common.image;

/**
 * Told how far a long operation has got, in logical bytes done so far. Called from one thread at a
 * time, in increasing order, typically once per chunk; must be cheap. {@code
 * org.clonecast.common.cli.ProgressBar::update} fits.
 */
@FunctionalInterface
public interface ProgressListener {
  /** A listener that ignores progress. */
  ProgressListener NONE = done -> {};

  /** {@code done} bytes of the operation's total are finished. */
  void progress(long done);
}
