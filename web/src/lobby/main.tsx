// The player lobby, served at /.
import { render } from "preact";
import "../ui/base.css";
import "./lobby.css";
import { App } from "./app";

render(<App />, document.getElementById("app")!);
