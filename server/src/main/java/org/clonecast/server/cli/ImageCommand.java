package org.clonecast.server.cli;

import org.clonecast.common.cli.CommandGroup;
import picocli.CommandLine.Command;

/**
 * {@code clonecast image}: the group of chunked-image commands (create, info, verify, extract).
 * Format and usage: {@code docs/image-format.md}. Not thread-safe: one instance per command line.
 */
@Command(
    name = "image",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Create, inspect, verify and extract chunked disk images (.cci).",
    subcommands = {
      ImageCreateCommand.class,
      ImageInfoCommand.class,
      ImageVerifyCommand.class,
      ImageExtractCommand.class,
      ImageExportCommand.class,
      ImageStoreCommands.Add.class,
      ImageStoreCommands.Capture.class,
      ImageStoreCommands.Watch.class,
      ImageStoreCommands.ListImages.class,
      ImageStoreCommands.Remove.class,
      ImageStoreCommands.Replicate.class
    })
public final class ImageCommand extends CommandGroup {}
