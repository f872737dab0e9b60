/** The latency histogram every bench figure comes from: µs, 1 µs to 120 s, 3 significant digits. */
import * as hdr from "hdr-histogram-js";

export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}
