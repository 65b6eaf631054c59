package org.clonecast.common.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Makes every command's description whole sentences. Our {@code @Command} descriptions are written
 * as source lines that break mid-sentence, and picocli prints each line as a paragraph and lists a
 * subcommand under its parent by the first line alone, which then stopped mid-sentence ("(as root;
 * the checkout's"). Lines are joined into paragraphs, a paragraph ending where a line ends a
 * sentence ({@code .}, {@code !}, {@code ?}, {@code :}), so the command list shows each command's
 * whole first paragraph.
 *
 * <p>Thread-safe (no state); changes the command tree it is given.
 */
public final class HelpText {
  private HelpText() {}

  /**
   * Joins the description lines of {@code top} and of every command below it; returns {@code top}.
   */
  public static CommandLine wholeSentences(CommandLine top) {
    CommandSpec spec = top.getCommandSpec();
    spec.usageMessage().description(paragraphs(spec.usageMessage().description()));
    top.getSubcommands().values().forEach(HelpText::wholeSentences);
    return top;
  }

  /** {@code lines} joined into paragraphs; a line ending a sentence ends its paragraph. */
  static String[] paragraphs(String[] lines) {
    List<String> out = new ArrayList<>();
    StringBuilder p = new StringBuilder();
    for (String line : lines) {
      String l = line.strip();
      if (l.isEmpty()) {
        continue;
      }
      if (p.length() > 0) {
        p.append(' ');
      }
      p.append(l);
      if (endsSentence(l)) {
        out.add(p.toString());
        p.setLength(0);
      }
    }
    if (p.length() > 0) {
      out.add(p.toString());
    }
    return out.toArray(String[]::new);
  }

  /** Whether {@code line} ends a sentence (or a picocli line break). */
  public static boolean endsSentence(String line) {
    if (line.isEmpty()) {
      return false;
    }
    char last = line.charAt(line.length() - 1);
    return last == '.' || last == '!' || last == '?' || last == ':' || line.endsWith("%n");
  }
}
