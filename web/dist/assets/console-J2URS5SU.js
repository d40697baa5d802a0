import{a as o,b as e}from"./chunk-2ZBDMNEA.js";o(e("main",{children:e("h1",{children:"Croupier console"})}),document.getElementById("app"));
