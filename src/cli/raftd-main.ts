/** Entry point of raftd when run from the sources (tests run it through tsx). */
import { main } from "./raftd";

void main(process.argv.slice(2));
