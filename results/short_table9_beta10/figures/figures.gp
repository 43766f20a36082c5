# figures of results/short_table9_beta10, drawn by sakd collect from table.csv and layers.csv
set datafile missing 'nan'
set encoding utf8
set terminal svg dynamic noenhanced size 900,540
set output 'accuracy.svg'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "teacher.model.name"
set offsets 0, 0, 0, 0
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [77:*]
plot 'accuracy.dat' using 2:3:xtic(1) title "model.name=resnet34"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'accuracy.png'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "teacher.model.name"
set offsets 0, 0, 0, 0
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [77:*]
plot 'accuracy.dat' using 2:3:xtic(1) title "model.name=resnet34"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'firing.svg'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "teacher.model.name"
set offsets 0, 0, 0, 0
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'firing.dat' using 2:3:xtic(1) title "model.name=resnet34"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'firing.png'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "teacher.model.name"
set offsets 0, 0, 0, 0
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'firing.dat' using 2:3:xtic(1) title "model.name=resnet34"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'energy.svg'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "teacher.model.name"
set offsets 0, 0, 0, 0
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'energy.dat' using 2:3:xtic(1) title "model.name=resnet34"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'energy.png'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "teacher.model.name"
set offsets 0, 0, 0, 0
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'energy.dat' using 2:3:xtic(1) title "model.name=resnet34"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 1100,540
set output 'firing_layers.svg'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
set offsets graph 0.02, graph 0.02, 0, 0
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "teacher.model.name=resnet18, model.name=resnet34", 'firing_layers.dat' using 1:5:6 title "teacher.model.name=resnet34, model.name=resnet34"
set xtics norotate
set terminal pngcairo noenhanced size 1100,540
set output 'firing_layers.png'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
set offsets graph 0.02, graph 0.02, 0, 0
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "teacher.model.name=resnet18, model.name=resnet34", 'firing_layers.dat' using 1:5:6 title "teacher.model.name=resnet34, model.name=resnet34"
set xtics norotate
