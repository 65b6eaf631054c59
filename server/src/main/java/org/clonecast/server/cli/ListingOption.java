package org.clonecast.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import picocli.CommandLine.Option;

/**
 * The {@code --json} flag of every listing ({@code node list}, {@code image list}, {@code session
 * list}) and the printing it chooses: the API's JSON as received, or a table. A picocli mixin.
 */
final class ListingOption {
  @Option(names = "--json", description = "Print JSON (the API's shape) instead of a table.")
  boolean json;

  /** Prints {@code items} as JSON, or as a table of {@code header} and one {@code row} per item. */
  void print(PrintWriter out, JsonNode items, String[] header, Function<JsonNode, String[]> row) {
    if (json) {
      Table.json(out, items);
      return;
    }
    List<String[]> rows = new ArrayList<>();
    rows.add(header);
    for (JsonNode item : items) {
      rows.add(row.apply(item));
    }
    Table.print(out, rows);
  }
}
