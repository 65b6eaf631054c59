package org.clonecast.common.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Renders a picocli command tree as the OPTIONS and COMMANDS sections of a man(7) page, so the
 * packaged manual says exactly what {@code --help} says. The packaging script runs it ({@code java
 * -cp JAR org.clonecast.common.cli.ManPage COMMAND-CLASS}) and puts its output into a hand-written
 * page that adds the rest (files, exit status, examples).
 *
 * <p>Hidden commands and options are left out, so are picocli's {@code help} command and the {@code
 * --help}/{@code --version} options of subcommands (the OPTIONS section shows them once).
 * Thread-safe (no state).
 */
public final class ManPage {
  /** A usage width no synopsis reaches, so picocli never wraps one. */
  static final int UNWRAPPED = 10_000;

  private ManPage() {}

  /** Prints the sections for the {@code @Command} class named in {@code args[0]} to stdout. */
  public static void main(String[] args) throws ReflectiveOperationException {
    if (args.length != 1) {
      System.err.println("usage: java -cp JAR org.clonecast.common.cli.ManPage COMMAND-CLASS");
      System.exit(ExitCodes.USAGE);
    }
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    out.print(sections(HelpText.wholeSentences(new CommandLine(Class.forName(args[0])))));
    out.flush();
  }

  /**
   * The OPTIONS section of the top-level command and, if it has subcommands, a COMMANDS section.
   * Sets the tree's usage width to {@link #UNWRAPPED}: troff does the filling, and picocli's own
   * wrapping would split tokens such as {@code -o=OUT.cci} at the dot.
   */
  public static String sections(CommandLine top) {
    top.setUsageHelpWidth(UNWRAPPED);
    StringBuilder b = new StringBuilder();
    b.append(".SH OPTIONS\n");
    options(b, top.getCommandSpec(), true);
    positionals(b, top.getCommandSpec());
    List<CommandLine> subs = subcommands(top);
    if (!subs.isEmpty()) {
      b.append(".SH COMMANDS\n");
      for (CommandLine sub : subs) {
        command(b, sub);
      }
    }
    return b.toString();
  }

  private static void command(StringBuilder b, CommandLine cl) {
    CommandSpec spec = cl.getCommandSpec();
    b.append(".SS \"").append(spec.qualifiedName()).append("\"\n");
    // Left-adjusted, as synopses are: justification would stretch the spaces inside the command
    // name.
    b.append(".PP\n.ad l\n").append(synopsis(cl)).append("\n.ad\n");
    description(b, spec.usageMessage().description());
    positionals(b, spec);
    options(b, spec, false);
    for (CommandLine sub : subcommands(cl)) {
      command(b, sub);
    }
  }

  /** picocli's own synopsis (so it stays what --help shows), bold command name, one filled line. */
  private static String synopsis(CommandLine cl) {
    CommandSpec spec = cl.getCommandSpec();
    String plain =
        new Help(spec, Help.defaultColorScheme(Help.Ansi.OFF))
            .synopsis(0)
            .strip()
            .replaceAll("\\s+", " ");
    String name = spec.qualifiedName();
    String rest = plain.startsWith(name) ? plain.substring(name.length()).strip() : plain;
    StringBuilder b = new StringBuilder("\\fB").append(escape(name, true)).append("\\fR");
    for (String token : rest.isEmpty() ? new String[0] : rest.split(" ")) {
      b.append(" \\%").append(escape(token, true)); // \% : never hyphenate inside an option
    }
    return b.toString();
  }

  private static void description(StringBuilder b, String[] lines) {
    if (lines.length == 0) {
      return;
    }
    b.append(".PP\n");
    for (String line : lines) {
      b.append(text(line)).append('\n');
    }
  }

  private static void options(StringBuilder b, CommandSpec spec, boolean withStandardHelp) {
    for (OptionSpec o : spec.options()) {
      if (o.hidden() || (!withStandardHelp && (o.usageHelp() || o.versionHelp()))) {
        continue;
      }
      StringBuilder tag = new StringBuilder();
      for (String name : o.names()) {
        if (tag.length() > 0) {
          tag.append(", ");
        }
        tag.append("\\fB").append(escape(name, true)).append("\\fR");
      }
      if (o.arity().max() > 0) {
        tag.append("=\\fI").append(escape(o.paramLabel(), true)).append("\\fR");
      }
      b.append(".TP\n").append(tag).append('\n');
      for (String line : o.description()) {
        b.append(text(line)).append('\n');
      }
    }
  }

  private static void positionals(StringBuilder b, CommandSpec spec) {
    for (PositionalParamSpec p : spec.positionalParameters()) {
      if (p.hidden()) {
        continue;
      }
      b.append(".TP\n\\fI").append(escape(p.paramLabel(), true)).append("\\fR\n");
      for (String line : p.description()) {
        b.append(text(line)).append('\n');
      }
    }
  }

  /** Visible subcommands in declaration order, each once (aliases map to the same CommandLine). */
  private static List<CommandLine> subcommands(CommandLine cl) {
    Map<CommandLine, Boolean> seen = new IdentityHashMap<>();
    List<CommandLine> out = new ArrayList<>();
    for (CommandLine sub : cl.getSubcommands().values()) {
      CommandSpec s = sub.getCommandSpec();
      if (s.usageMessage().hidden() || s.helpCommand() || seen.put(sub, Boolean.TRUE) != null) {
        continue;
      }
      out.add(sub);
    }
    return out;
  }

  /** A line of running text: escaped, and never starting with a control character. */
  static String text(String line) {
    String s = escape(line.replace("%n", " ").strip(), false);
    return s.startsWith(".") || s.startsWith("'") ? "\\&" + s : s;
  }

  /**
   * Escapes troff's backslash; with {@code dashes}, every '-' becomes the minus sign {@code \-}
   * that option names need to be typed and searched as they look.
   */
  static String escape(String s, boolean dashes) {
    String e = s.replace("\\", "\\e");
    return dashes ? e.replace("-", "\\-") : e;
  }
}
