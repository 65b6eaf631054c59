package org.clonecast.common.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

class HelpTextTest {
  @Command(name = "top", subcommands = Split.class, description = "Top.")
  static final class Top implements Runnable {
    @Override
    public void run() {}
  }

  @Command(
      name = "split",
      description = {
        "Run a thing in a lab (as root; the",
        "checkout's script): VMs boot.",
        "Ends with a line.",
        "  "
      })
  static final class Split implements Runnable {
    @Override
    public void run() {}
  }

  @Test
  void linesAreJoinedIntoSentences() {
    assertArrayEquals(
        new String[] {
          "Run a thing in a lab (as root; the checkout's script): VMs boot.", "Ends with a line."
        },
        HelpText.paragraphs(
            new String[] {
              "Run a thing in a lab (as root; the",
              "checkout's script): VMs boot.",
              "Ends with a line.",
              "  "
            }));
    assertArrayEquals(
        new String[] {"No full stop at the end"},
        HelpText.paragraphs(new String[] {"No full stop", "at the end"}));
  }

  @Test
  void theParentListsTheWholeFirstSentence() {
    CommandLine cl = HelpText.wholeSentences(new CommandLine(new Top()));
    StringWriter out = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.usage(new PrintWriter(out));
    assertTrue(
        out.toString()
            .replaceAll("\\s+", " ")
            .contains("split Run a thing in a lab (as root; the checkout's script): VMs boot."),
        out.toString());
  }
}
