package org.clonecast.common.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A command that only groups subcommands ({@code clonecast}, {@code clonecast node}, {@code
 * clonecast-agent}, ...). Run without one, it is a usage error: a small group names its
 * subcommands, a program's root or a large group points to {@code --help}. Not thread-safe: one
 * instance per command line.
 */
public abstract class CommandGroup implements Runnable {
  /** Groups of more subcommands than this point to {@code --help} instead of naming them. */
  private static final int NAMED_AT_MOST = 4;

  @Spec protected CommandSpec spec;

  @Override
  public final void run() {
    throw new CommandLine.ParameterException(
        spec.commandLine(), "a subcommand is required" + choices());
  }

  private String choices() {
    List<String> names = new ArrayList<>();
    spec.subcommands()
        .forEach(
            (name, sub) -> {
              // Aliases map to the same subcommand; "help" is picocli's, not one of ours.
              if (name.equals(sub.getCommandName()) && !name.equals("help")) names.add(name);
            });
    if (spec.parent() == null || names.isEmpty() || names.size() > NAMED_AT_MOST) {
      return "; see '" + spec.qualifiedName() + " --help'";
    }
    String last = names.remove(names.size() - 1);
    return ": " + (names.isEmpty() ? last : String.join(", ", names) + " or " + last);
  }
}
