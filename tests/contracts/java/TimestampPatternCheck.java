// Parses timestamps exactly as castorm/kafka-connect-http v0.8.11 does, on the JVM's own java.time.
//
// Run as a single-file source program (JDK 11+): java TimestampPatternCheck.java < cases.tsv
// Input: one case per line, tab-separated: parser, pattern, zone, value
//   parser = DateTimeFormatterTimestampParser | EpochMillisOrDelegateTimestampParser (delegating to the former,
//            its default http.response.record.timestamp.parser.delegate).
// Output: one line per case: "OK\t<Instant.toString()>" or "ERROR\t<exception class>: <message>".
//
// The calls below are the upstream ones (castorm/kafka-connect-http tag v0.8.11,
// kafka-connect-http/src/main/java/com/github/castorm/kafka/connect/http/response/timestamp/):
//   DateTimeFormatterTimestampParserConfig:
//       recordTimestampFormatter = DateTimeFormatter.ofPattern(getString(ITEM_TIMESTAMP_PATTERN))
//               .withZone(ZoneId.of(getString(ITEM_TIMESTAMP_ZONE)));
//   DateTimeFormatterTimestampParser.parse:
//       return OffsetDateTime.parse(timestamp, timestampFormatter).toInstant();
//   EpochMillisOrDelegateTimestampParser.parse:
//       try { return Instant.ofEpochMilli(parseLong(timestamp)); }
//       catch (NumberFormatException e) { return delegate.parse(timestamp); }
// Defaults (same files): pattern "yyyy-MM-dd'T'HH:mm:ss[.SSS]X", zone "UTC"; the Python side fills them in.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

public class TimestampPatternCheck {

    static Instant dateTimeFormatterParse(String pattern, String zone, String timestamp) {
        DateTimeFormatter timestampFormatter = DateTimeFormatter.ofPattern(pattern).withZone(ZoneId.of(zone));
        return OffsetDateTime.parse(timestamp, timestampFormatter).toInstant();
    }

    static Instant parse(String parser, String pattern, String zone, String timestamp) {
        switch (parser) {
            case "DateTimeFormatterTimestampParser":
                return dateTimeFormatterParse(pattern, zone, timestamp);
            case "EpochMillisOrDelegateTimestampParser":
                try {
                    return Instant.ofEpochMilli(Long.parseLong(timestamp));
                } catch (NumberFormatException e) {
                    return dateTimeFormatterParse(pattern, zone, timestamp);
                }
            default:
                throw new IllegalArgumentException("unsupported parser " + parser);
        }
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\t", -1);
            if (f.length != 4) {
                System.out.println("ERROR\tBadInput: expected 4 tab-separated fields, got " + f.length);
                continue;
            }
            try {
                System.out.println("OK\t" + parse(f[0], f[1], f[2], f[3]));
            } catch (RuntimeException e) {
                System.out.println("ERROR\t" + e.getClass().getName() + ": " + e.getMessage());
            }
        }
    }
}
