package org.clonecast.server.cli;

import picocli.CommandLine.Parameters;

/** The NAME an image has in the daemon's store, as the first parameter of a command. A mixin. */
final class ImageNameParameter {
  @Parameters(
      index = "0",
      paramLabel = "NAME",
      description = "Image name (letters, digits, '.', '_', '-').")
  String name;
}
