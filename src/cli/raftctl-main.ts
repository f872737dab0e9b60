/** Entry point of raftctl when run from the sources (tests run it through tsx). */
import { main } from "./raftctl";

void main(process.argv.slice(2));
