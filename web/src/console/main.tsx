// The operator console, served at /console/.
import { render } from "preact";
import "../ui/base.css";
import "./console.css";
import { App } from "./app";

render(<App />, document.getElementById("app")!);
