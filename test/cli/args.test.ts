// parsePositiveInt: decimal digits only, within [min, max] (min defaults to 1, never below 1);
// the error names the flag and the range it wants.
import t from "tap";
import { parsePositiveInt } from "../../src/cli/args";
import { isRaftmqError } from "../../src/util/errors";

function refusal(text: unknown, max: number, min?: number): string {
  try {
    parsePositiveInt(text, "--n", max, min);
  } catch (error) {
    if (isRaftmqError(error)) return error.message;
    throw error;
  }
  return "accepted";
}

t.test("accepts whole numbers from min to max", async (t) => {
  t.equal(parsePositiveInt("1", "--n", 7), 1);
  t.equal(parsePositiveInt("7", "--n", 7), 7);
  t.equal(parsePositiveInt("3", "--n", 7, 3), 3);
  t.equal(parsePositiveInt("5", "--n", 7, 3), 5);
});

t.test("refuses what is outside the range or not digits, naming the range", async (t) => {
  t.equal(refusal("0", 7), '--n: expected an integer from 1 to 7, got "0"');
  t.equal(refusal("8", 7), '--n: expected an integer from 1 to 7, got "8"');
  t.equal(refusal("2", 7, 3), '--n: expected an integer from 3 to 7, got "2"');
  t.equal(refusal("9", 7, 3), '--n: expected an integer from 3 to 7, got "9"', "the same range above as below");
  t.equal(refusal("0", 7, 0), '--n: expected an integer from 1 to 7, got "0"', "min never goes below 1");
  for (const text of ["", "1.5", "-3", "+3", "3e0", " 3", "0x3"]) t.match(refusal(text, 7), /^--n: expected an integer from 1 to 7/, JSON.stringify(text));
  t.equal(refusal(3, 7), "--n: expected an integer from 1 to 7, got 3", "a number that is not flag text");
});
