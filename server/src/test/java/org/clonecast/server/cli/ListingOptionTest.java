package org.clonecast.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** A listing prints the API's JSON as received with --json, a table of its rows without. */
class ListingOptionTest {
  static final String NODES =
      "[{\"mac\":\"52:54:00:00:00:0a\",\"name\":\"node01\"},{\"mac\":\"52:54:00:00:00:0b\",\"name\":null}]";

  static String print(boolean json) throws Exception {
    JsonNode nodes = new ObjectMapper().readTree(NODES);
    ListingOption listing = new ListingOption();
    listing.json = json;
    StringWriter out = new StringWriter();
    listing.print(
        new PrintWriter(out),
        nodes,
        new String[] {"MAC", "NAME"},
        n -> new String[] {n.path("mac").asText(), NodeCommand.text(n, "name")});
    return out.toString();
  }

  @Test
  void tableWithAHeaderAndARowPerItem() throws Exception {
    assertEquals(
        "MAC                NAME\n52:54:00:00:00:0a  node01\n52:54:00:00:00:0b  -\n", print(false));
  }

  @Test
  void jsonAsTheApiSentIt() throws Exception {
    assertEquals(new ObjectMapper().readTree(NODES), new ObjectMapper().readTree(print(true)));
  }
}
