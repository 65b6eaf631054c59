package org.clonecast.it.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every test class of this module is in exactly one lane ({@link HeavyLane}, {@link LightLane} or
 * {@link Alone}): a class in neither would run beside both lanes at once, and one in two would wait
 * for both.
 */
@LightLane
class LanesIT {
  @Test
  void everyTestClassIsInExactlyOneLane() throws IOException, URISyntaxException {
    Path classes =
        Path.of(LanesIT.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> names;
    try (Stream<Path> files = Files.walk(classes)) {
      names =
          files
              .map(p -> classes.relativize(p).toString())
              .filter(n -> n.endsWith("IT.class") && !n.contains("$"))
              .map(n -> n.substring(0, n.length() - ".class".length()).replace('/', '.'))
              .sorted()
              .toList();
    }
    assertTrue(names.size() > 20, "found the test classes under " + classes + ": " + names);
    List<String> wrong =
        names.stream()
            .filter(
                n -> {
                  Class<?> c = load(n);
                  return Stream.of(HeavyLane.class, LightLane.class, Alone.class)
                          .filter(c::isAnnotationPresent)
                          .count()
                      != 1;
                })
            .toList();
    assertEquals(List.of(), wrong, "test classes with no lane, or both: annotate each with one");
  }

  private static Class<?> load(String name) {
    try {
      return Class.forName(name, false, LanesIT.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new AssertionError("cannot load " + name, e);
    }
  }
}
