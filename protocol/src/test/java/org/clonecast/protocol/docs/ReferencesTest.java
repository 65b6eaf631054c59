package org.clonecast.protocol.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every reference the code and docs cite resolves inside the repository: a cited {@code
 * docs/ref/NAME.md} exists, and each section it is cited by ({@code §1.2}, {@code §1.4–§1.9}) is a
 * heading there. Nothing cites the references' old home outside the repository.
 */
class ReferencesTest {
  private static final Pattern CITATION =
      Pattern.compile(
          "ref/([a-z-]+\\.md)((?:[`)\\]]*,? ?§ ?[0-9]+(?:\\.[0-9]+)?(?:–§[0-9]+(?:\\.[0-9]+)?)?)*)");

  /** A section cited by file name alone, which resolves nowhere. */
  private static final Pattern OUTSIDE =
      Pattern.compile("(?<![/\\w\\[(])(udpcast-protocol|pxe-firmware)\\.md`? ?§");

  private static final Pattern SECTION = Pattern.compile("§ ?([0-9]+(?:\\.[0-9]+)?)");

  /** The repository: the parent of this module's directory. */
  private static Path root() {
    Path here = Path.of("").toAbsolutePath();
    return Files.isDirectory(here.resolve("docs")) ? here : here.getParent();
  }

  private static List<Path> sources(Path root) throws IOException {
    List<Path> out = new ArrayList<>();
    for (String dir :
        List.of(
            "protocol",
            "common",
            "server",
            "client-agent",
            "integration-tests",
            "docs",
            "bench",
            "scripts",
            "packaging",
            "bootenv")) {
      Path d = root.resolve(dir);
      if (!Files.isDirectory(d)) {
        continue;
      }
      try (Stream<Path> files = Files.walk(d)) {
        files
            .filter(Files::isRegularFile)
            .filter(p -> !p.toString().contains("/target/"))
            .filter(p -> p.toString().matches(".*\\.(java|md|sh|txt)$"))
            .forEach(out::add);
      }
    }
    out.add(root.resolve("README.md"));
    return out;
  }

  @Test
  void everyCitationResolves() throws IOException {
    Path root = root();
    List<String> broken = new ArrayList<>();
    int citations = 0;
    for (Path f : sources(root)) {
      String text = Files.readString(f, StandardCharsets.UTF_8);
      boolean self = f.endsWith("ReferencesTest.java") || f.startsWith(root.resolve("docs/ref"));
      if (!self && (text.contains("shared" + "/ref/") || OUTSIDE.matcher(text).find())) {
        broken.add(root.relativize(f) + ": cites a reference outside the repository");
      }
      Matcher m = CITATION.matcher(text);
      while (m.find()) {
        citations++;
        Path ref = root.resolve("docs/ref").resolve(m.group(1));
        if (!Files.isRegularFile(ref)) {
          broken.add(root.relativize(f) + ": " + m.group() + ": no such file");
          continue;
        }
        String doc = Files.readString(ref, StandardCharsets.UTF_8);
        Matcher s = SECTION.matcher(m.group(2));
        while (s.find()) {
          String n = s.group(1);
          if (!Pattern.compile("(?m)^#+ " + Pattern.quote(n) + "[. ]").matcher(doc).find()) {
            broken.add(root.relativize(f) + ": " + m.group() + ": no section " + n);
          }
        }
      }
    }
    assertEquals(List.of(), broken);
    assertTrue(
        citations >= 40, citations + " citations found: is the scan looking in the right place?");
  }
}
