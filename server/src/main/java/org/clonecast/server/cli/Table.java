package org.clonecast.server.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.clonecast.server.http.Json;

/** Prints rows as left-aligned columns, the first row being the header. */
final class Table {
  private Table() {}

  /** Prints {@code value} as the API's JSON (what {@code --json} asks for of every listing). */
  static void json(PrintWriter out, Object value) {
    out.println(new String(Json.bytes(value), StandardCharsets.UTF_8));
    out.flush();
  }

  static void print(PrintWriter out, List<String[]> rows) {
    int cols = rows.get(0).length;
    int[] width = new int[cols];
    for (String[] r : rows) {
      for (int i = 0; i < cols; i++) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    for (String[] r : rows) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < cols; i++) {
        b.append(r[i]);
        if (i < cols - 1) {
          b.append(" ".repeat(width[i] - r[i].length() + 2));
        }
      }
      out.println(b.toString().stripTrailing());
    }
    out.flush();
  }
}
