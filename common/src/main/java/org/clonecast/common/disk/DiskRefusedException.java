package org.clonecast.common.disk;

import java.io.IOException;
import java.util.List;

/**
 * A disk capture must not image as it is: a filesystem mounted read-write or not clean (unless
 * forced), or a partition table pointing past the disk's end. The message has one line per problem,
 * each naming the partition, the problem and the fix.
 *
 * <p>Immutable and therefore thread-safe.
 */
public class DiskRefusedException extends IOException {
  private static final long serialVersionUID = 1L;

  /** The problems, one sentence each. */
  private final List<String> problems;

  public DiskRefusedException(String disk, List<String> problems) {
    super("refusing to capture " + disk + ":\n  " + String.join("\n  ", problems));
    this.problems = List.copyOf(problems);
  }

  /** One sentence per problem: partition, problem, fix. */
  public List<String> problems() {
    return problems;
  }
}
